"""Spec path globs: `*` within one path segment, `**` across segments, case-sensitive, used everywhere."""

import pytest

from harness.evaluate import targets
from harness.spec.globs import matches
from harness.spec.model import Step, Suite, Target

# The examples docs/harness.md gives, as (path, pattern, matches).
EXAMPLES = [
    ("pkg/a.py", "pkg/*.py", True),
    ("pkg/sub/a.py", "pkg/*.py", False),
    ("pkg/a.py", "pkg/**", True),
    ("pkg/sub/deep/a.py", "pkg/**", True),
    ("pkg/a.py", "pkg/**/*.py", True),
    ("pkg/sub/a.py", "pkg/**/*.py", True),
    ("a.py", "**/a.py", True),
    ("pkg/sub/a.py", "**/a.py", True),
    ("pkg/a.py", "*.py", False),
    ("pkg/ab.py", "pkg/a?.py", True),
    ("pkg/a/b.py", "pkg/a?b.py", False),
    ("pkg/b.py", "pkg/[ab].py", True),
    ("pkg/A.py", "pkg/a.py", False),
    ("pkg/a.py", "pkg/A*.py", False),
    ("pkg/.hidden.py", "pkg/*.py", True),
    ("other/pkg/a.py", "pkg/**", False),
    ("pkg/[x].py", "pkg/[x].py", True),
]


@pytest.mark.parametrize(("path", "pattern", "expected"), EXAMPLES)
def test_glob_examples(path, pattern, expected):
    assert matches(path, pattern) is expected


def test_target_resolution_uses_segment_globs():
    rules = (Target("pkg/**", 50), Target("pkg/*.py", 90))
    assert targets.resolve("pkg/a.py", rules).percent == 90
    assert targets.resolve("pkg/sub/a.py", rules).percent == 50


def test_step_rows_list_only_the_files_a_glob_matches():
    fig = {"percent": 70.0, "baseline": None}
    steps = (Step("one", (Suite("t.py"),), (Target("pkg/*.py", 60),)),)
    rows = targets.step_rows(steps, {"pkg/a.py": fig, "pkg/sub/b.py": fig})
    assert [r["file"] for r in rows[0]["rows"]] == ["pkg/a.py"]


def test_preflight_star_does_not_cross_a_directory(throwaway):
    throwaway.spec("mod-a", suites=["suites/tests/test_ops.py"], targets={"*.py": 50})
    outcome = throwaway.harness("list")
    assert outcome.exit_code == 2
    assert "targets: '*.py' matches no measured file (source: calc)" in outcome.output


def test_preflight_globstar_reaches_nested_files(throwaway):
    throwaway.write("calc/deep/__init__.py", "")
    throwaway.write("calc/deep/inner.py", "X = 1\n")
    throwaway.spec("mod-a", suites=["suites/tests/test_ops.py"], targets={"**/inner.py": 50, "calc/**": 10})
    outcome = throwaway.harness("list")
    assert outcome.exit_code == 0, outcome.output
