"""Patch coverage against diff-cover itself, on real git changes and real coverage.py data."""

import json
import subprocess
import sys

import pytest

from harness.evaluate.patch import FilePatch, patch_coverage
from harness.measure.coverage import json_report, write_artifacts
from harness.spec.changes import ChangedFile, Changes, changes
from tests.harness.gitrepo import make_repo

SHAPES = '''\
"""Shapes."""


def area(kind, size):
    if kind == "square":
        return size * size
    if kind == "circle":
        return 3 * size * size
    return None


def label(kind):
    return (
        kind.upper()
        if kind
        else "none"
    )


def unused():  # pragma: no cover
    return 1
'''

TEST_SHAPES = """\
from pkg.shapes import area, label


def test_square():
    assert area("square", 2) == 4


def test_label():
    assert label("x") == "X"
"""

OLD = "def gone():\n    return 0\n"

# The branch's edits: in shapes.py a covered line, an uncovered line, a new uncovered branch, a line
# inside a multi-line statement, a comment and an excluded line; a new file half run; a renamed file
# with one edited line; a deleted file; a binary file.
SHAPES_AFTER = (
    SHAPES.replace("return size * size", "return size ** 2")
    .replace("return 3 * size * size", "return 3.14 * size * size")
    .replace("    return None\n", '    if kind == "dot":\n        return 0\n    return None  # no shape\n')
    .replace('        else "none"', '        else "nothing"')
    .replace("return 1\n", "return 2\n")
)
EXTRA = """\
def twice(x):
    return 2 * x


def never(x):
    if x:
        return x
    return -x
"""
TEST_EXTRA = """\
from pkg.extra import twice
from pkg.moved import kept


def test_twice():
    assert twice(2) == 4
    assert kept() == 2
"""


@pytest.fixture
def branch(tmp_path, monkeypatch):
    """A project on `main` and a branch `feature` that edits, adds, renames, deletes and adds a binary."""
    return _branch(tmp_path, monkeypatch)


@pytest.fixture(scope="module")
def measured_branch(tmp_path_factory):
    """The committed branch and its coverage, shared by the tests that only read them."""
    with pytest.MonkeyPatch.context() as patch:
        repo = _branch(tmp_path_factory.mktemp("branch"), patch)
        yield repo, *_measure(repo.root)


def _branch(tmp_path, monkeypatch):
    for name in ("DJANGO_SETTINGS_MODULE", "PYTEST_ADDOPTS", "COVERAGE_PROCESS_START"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1"
    )  # a plain pytest starts in a fraction of a second
    repo = make_repo(tmp_path / "proj", monkeypatch)
    repo.write("pyproject.toml", "[tool.coverage.run]\nbranch = true\nsource = ['pkg']\n")
    repo.write("pkg/__init__.py", "")
    repo.write("pkg/shapes.py", SHAPES)
    repo.write("pkg/old.py", OLD)
    repo.write("pkg/keep.py", "def kept():\n    return 1\n")
    repo.write("tests/test_shapes.py", TEST_SHAPES)
    repo.commit("base")
    repo.git("checkout", "-q", "-b", "feature")
    repo.write("pkg/shapes.py", SHAPES_AFTER)
    repo.write("pkg/extra.py", EXTRA)
    repo.git("rm", "-q", "pkg/old.py")
    repo.git("mv", "pkg/keep.py", "pkg/moved.py")
    repo.write("pkg/moved.py", "def kept():\n    return 2\n")
    repo.write("pkg/logo.png", b"\x89PNG\0binary")
    repo.write("tests/test_extra.py", TEST_EXTRA)
    repo.commit("feature")
    return repo


def _measure(root):
    """coverage.py's JSON report (as `harness run` makes it) and its XML report, of the project's tests."""
    env_run = [sys.executable, "-m", "coverage", "run", "-m", "pytest", "-q", "-p", "no:randomly", "tests"]
    subprocess.run([*env_run, "-p", "no:cacheprovider"], cwd=root, check=True, capture_output=True)
    report = json_report(root, root / ".coverage", root / "out")
    write_artifacts(root, root / ".coverage", root / "out")
    return report, root / "out" / "coverage.xml"


def _diff_cover(root, xml, *args):
    out = root / "diff-cover.json"
    command = [sys.executable, "-m", "diff_cover.diff_cover_tool", str(xml), f"--json-report={out}"]
    subprocess.run([*command, "--total-percent-float", *args], cwd=root, check=True, capture_output=True)
    return json.loads(out.read_text(encoding="utf-8"))


def _assert_same_as_diff_cover(patch, theirs):
    ours = {f.path: f for f in patch.files if f.figures.statements}
    assert sorted(ours) == sorted(theirs["src_stats"])
    for path, stats in theirs["src_stats"].items():
        assert list(ours[path].missing) == stats["violation_lines"], path
        assert list(ours[path].covered) == stats["covered_lines"], path
        assert ours[path].figures.lines_percent == pytest.approx(stats["percent_covered"]), path
    totals = patch.totals
    assert (totals.statements, totals.statements - totals.covered) == (
        theirs["total_num_lines"],
        theirs["total_num_violations"],
    )
    assert round(totals.lines_percent, 2) == theirs["total_percent_covered"]


def test_line_figures_equal_diff_cover_on_a_committed_branch(measured_branch):
    branch, report, xml = measured_branch
    patch = patch_coverage(report, changes(branch.root, "main"))

    _assert_same_as_diff_cover(patch, _diff_cover(branch.root, xml, "--compare-branch=main"))
    shapes = next(f for f in patch.files if f.path == "pkg/shapes.py")
    assert shapes.covered == (6,) and shapes.missing == (
        8,
        9,
        10,
        11,
    )  # not 16 (inside a statement) or 21 (excluded)
    assert [f.path for f in patch.files] == ["pkg/extra.py", "pkg/moved.py", "pkg/shapes.py"]


def test_line_figures_equal_diff_cover_on_uncommitted_edits_given_the_same_diff(branch):
    branch.write("pkg/extra.py", EXTRA.replace("return -x", "return 0 - x"))  # unstaged
    branch.write("pkg/shapes.py", SHAPES_AFTER.replace("return kind.upper()", "return kind.lower()"))
    branch.git("add", "pkg/shapes.py")  # staged
    found = changes(branch.root, "main")
    diff = branch.git("diff", "--no-color", "--unified=0", "--find-renames", found.base)
    (branch.root / "change.diff").write_text(diff + "\n", encoding="utf-8")
    report, xml = _measure(branch.root)

    patch = patch_coverage(report, found)

    _assert_same_as_diff_cover(patch, _diff_cover(branch.root, xml, "--diff-file=change.diff"))


def test_a_whole_new_file_has_coverage_pys_own_figures(measured_branch):
    branch, report, _ = measured_branch
    patch = patch_coverage(report, changes(branch.root, "main"))
    extra = next(f for f in patch.files if f.path == "pkg/extra.py")
    summary = report["files"]["pkg/extra.py"]["summary"]
    assert extra.figures.percent == pytest.approx(summary["percent_covered"])
    assert extra.figures.lines_percent == pytest.approx(summary["percent_statements_covered"])
    assert extra.figures.branches_percent == pytest.approx(summary["percent_branches_covered"])
    assert extra.missing_branches == ((6, 7), (6, 8))


REPORT = {
    "files": {
        "m.py": {
            "executed_lines": [1, 2, 3, 5],
            "missing_lines": [4, 6],
            "excluded_lines": [7],
            "executed_branches": [[2, 3], [3, 5], [5, -1]],
            "missing_branches": [[2, 4], [3, 4], [5, 6]],
        }
    }
}


def test_branches_count_where_they_start_on_a_changed_statement():
    change = Changes("main", "b" * 40, "h" * 40, (ChangedFile("m.py", (3, 4, 7, 9)),))
    patch = patch_coverage(REPORT, change)
    assert patch.files == (FilePatch("m.py", (3, 4, 7, 9), (3,), (4,), ((3, 4),), 2, 1),)
    figures = patch.totals
    assert (figures.lines_percent, figures.branches_percent, figures.percent) == (50.0, 50.0, 50.0)


def test_files_outside_the_report_binary_files_and_no_statements():
    change = Changes(
        "main",
        "b" * 40,
        "h" * 40,
        (ChangedFile("m.py", (7,)), ChangedFile("other.py", (1,)), ChangedFile("m.py", binary=True)),
    )
    patch = patch_coverage(REPORT, change)
    assert [f.path for f in patch.files] == ["m.py"]
    assert patch.measurable is False
    assert (patch.totals.lines_percent, patch.totals.branches_percent, patch.totals.percent) == (None,) * 3
