"""Rendered reports against gold files (`goldtest.py`: a mismatch is kept in actual/ and fails).

The inputs are stored results (gold/*.results.json, from real runs of a throwaway project with fixed
timestamps); the outputs are gold/*.md and the terminal's text. gold/branches.results.json is checked
against a real run of BRANCHES_PROJECT each time: branch coverage with a file short of 100% only by a
branch, subtests, a deselected test and no baseline.
"""

import json
import re
from types import SimpleNamespace

import pytest

from harness.evaluate import shape
from harness.report import markdown, terminal
from harness.store import records
from tests.harness.conftest import Throwaway
from tests.harness.report.goldtest import compare as _compare
from tests.harness.report.goldtest import gold_text

CASES = ["in_progress", "variance", "failed", "crashed", "branches"]


def _result(name: str) -> dict:
    return json.loads(gold_text(f"{name}.results.json"))


@pytest.mark.parametrize("name", CASES)
def test_completion_status_matches_gold(name):
    _compare(markdown.completion_status(_result(name)), f"{name}.COMPLETION_STATUS.md")


@pytest.mark.parametrize("name", CASES)
def test_github_summary_matches_gold(name):
    _compare(markdown.github_summary(_result(name)), f"{name}.summary.md")


def test_map_block_matches_gold():
    rows = [
        shape.map_row(
            SimpleNamespace(id=r["module"], title=r["title"]),
            r,
            f"reports/{r['module']}/COMPLETION_STATUS.md",
        )
        for r in map(_result, CASES)
    ]
    _compare(markdown.map_block(rows), "map_block.md")


def test_terminal_table_matches_gold():
    _compare("\n".join(terminal.terminal_table(_result(name)) for name in CASES) + "\n", "terminal.txt")


def test_summarised_report_matches_gold(monkeypatch):
    """A module over the summary threshold, with small limits so every cut shows in a short gold file."""
    from benchmarks.synthetic import large_result

    for name, value in (("TABLE_ROWS", 6), ("FULL_GAPS", 2), ("COMPACT_GAPS", 4)):
        monkeypatch.setattr(markdown, name, value)
    result = large_result(markdown.SUMMARISE_ABOVE + 10)
    _compare(markdown.completion_status(result), "summarised.COMPLETION_STATUS.md")
    _compare(markdown.github_summary(result), "summarised.summary.md")


def test_check_lines_match_gold():
    lines = [line for name in CASES for line in terminal.shortfall_lines(_result(name))]
    _compare("\n".join(lines) + "\n", "check.txt")


def test_github_annotations_match_gold():
    lines = [line for name in CASES for line in terminal.github_annotations(_result(name))]
    _compare("\n".join(lines) + "\n", "annotations.txt")


def test_annotations_are_capped_with_a_count():
    from benchmarks.synthetic import large_result

    lines = terminal.github_annotations(large_result(300), limit=5)
    assert len(lines) == 6 and lines[-1].startswith("::notice::") and "more files below target" in lines[-1]


def test_annotation_text_is_escaped():
    result = {"files": {"a,b:c.py": {"met": False, "gating": True, "gating_met": False, "gaps": [],
              "missing_branches": ["7->9"], "checks": [{"met": False, "origin": "targets", "short": [
              {"metric": "percent", "figure": 1.0, "target": 50}]}]}}}  # fmt: skip
    assert terminal.github_annotations(result) == [
        "::error file=a%2Cb%3Ac.py,line=7,title=Coverage below target::"
        "a,b:c.py: Coverage 1.00%25 < target 50%25 (module target)"
    ]


def test_list_lines_match_gold():
    rows = [(r["module"], r["title"], r, False) for r in map(_result, CASES)]
    lines = terminal.list_lines(
        [*rows, ("mod-new", "Not run yet", None, False), ("mod-bad", "Bad", None, True)]
    )
    _compare("\n".join(lines) + "\n", "list.txt")


def test_diff_table_matches_gold():
    from harness.evaluate.compare import compare

    _compare(terminal.diff_table(compare(_result("variance"), _result("in_progress"))) + "\n", "diff.txt")


def test_report_has_no_blank_line_runs_and_ends_with_one_newline():
    for name in CASES:
        text = markdown.completion_status(_result(name))
        assert "\n\n\n" not in text and text.endswith("\n") and not text.endswith("\n\n")


BRANCHES_PROJECT = {
    # Every statement runs; `if value is not None` is never false: short of 100% by a branch only.
    "calc/parse.py": """
        def split(text, sep=","):
            parts = []
            for part in text.split(sep):
                if part:
                    parts.append(part.strip())
            return parts


        def clean(values):
            out = []
            for value in values:
                if value is not None:
                    out.append(value)
            return out
    """,
    "suites/tests/test_calc.py": """
        import unittest

        from calc import ops, parse


        class SplitTest(unittest.TestCase):
            def test_cases(self):
                for text, expected in [("a,b", ["a", "b"]), ("a,,b", ["a", "b"]), ("", [])]:
                    with self.subTest(text=text):
                        self.assertEqual(parse.split(text), expected)

            def test_clean(self):
                self.assertEqual(parse.clean([1, 2]), [1, 2])


        def test_sign():
            assert ops.sign(3) == 1


        def test_slow_network():
            pass
    """,
}
FIXED = {
    "started_at": "2025-11-11T09:00:00+00:00",
    "finished_at": "2025-11-11T09:05:00+00:00",
    "commit": "0123456789abcdef0123456789abcdef01234567",
}


def branches_project(project: Throwaway) -> Throwaway:
    """The throwaway project turned into BRANCHES_PROJECT, with its module spec."""
    (project.root / "suites/tests/test_ops.py").unlink()
    (project.root / "suites/tests/test_box.py").unlink()
    for rel, text in BRANCHES_PROJECT.items():
        project.write(rel, text)
    project.spec(
        "branches",
        suites=[{"path": "suites/tests", "k": "not slow"}],
        targets={"calc/parse.py": 90, "calc/ops.py": 95},
        overall=80,
    )
    return project


def branches_run(project: Throwaway, *args: str) -> tuple[dict, str]:
    """BRANCHES_PROJECT's module run once (`args` to `harness run`): its result and terminal output."""
    outcome = project.harness("run", "branches", *args)
    result = {**project.result("branches"), **FIXED}
    result.pop("charts", None)  # drawn only with the charts extra; the report's charts are not at issue
    return result, outcome.output


def test_the_branches_input_is_what_a_real_run_stores(throwaway):
    result, _ = branches_run(branches_project(throwaway))
    _compare(records.dumps(result), "branches.results.json")


PROGRESS = re.compile(r"^    \d+(/\d+)? tests, \d+ failed, \d+:\d\d elapsed$")  # the plain progress line


def _lines(output: str, start: str) -> list[str]:
    """The output's lines that start so, with pytest's time and the progress lines (every 10 s of a slow
    run, off a terminal) left out."""
    lines = [line for line in output.splitlines() if line.startswith(start) and not PROGRESS.match(line)]
    return [re.sub(r" in [\d.]+s$", "", line) for line in lines]


def test_workers_and_shards_give_a_serial_runs_counts_and_lines(throwaway):
    serial, said = branches_run(branches_project(throwaway))
    parallel, said_parallel = branches_run(throwaway, "--workers", "2")
    assert _lines(said, "    ") == _lines(said_parallel, "    ") == ["    3 passed, 1 deselected"]
    for k in ("1/2", "2/2"):
        throwaway.harness("run", "branches", "--shard", k)
    combined = throwaway.harness("combine", "branches").output
    statuses = [_lines(text, "Status:") for text in (said, said_parallel, combined)]
    assert statuses == [["Status: In Progress  (" + markdown.tests_summary(serial) + ")"]] * 3
    keys = ("tests", "deselected", "subtests", "suites", "files", "overall")
    for other in (parallel, throwaway.result("branches")):
        assert {k: other[k] for k in keys} == {k: serial[k] for k in keys}
