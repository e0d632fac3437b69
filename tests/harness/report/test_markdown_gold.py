"""Rendered reports against gold files (`goldtest.py`: a mismatch is kept in actual/ and fails).

The inputs are stored results (gold/*.results.json, from real runs of a throwaway project with fixed
timestamps); the outputs are gold/*.md and the terminal's text.
"""

import json
from types import SimpleNamespace

import pytest

from harness.evaluate import shape
from harness.report import markdown, terminal
from tests.harness.report.goldtest import compare as _compare
from tests.harness.report.goldtest import gold_text

CASES = ["in_progress", "variance", "failed", "crashed"]


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
    lines = [terminal.list_line(r["module"], r["title"], r) for r in map(_result, CASES)]
    lines.append(terminal.list_line("mod-new", "Not run yet", None))
    _compare("\n".join(lines) + "\n", "list.txt")


def test_diff_table_matches_gold():
    from harness.evaluate.compare import compare

    _compare(terminal.diff_table(compare(_result("variance"), _result("in_progress"))) + "\n", "diff.txt")


def test_report_has_no_blank_line_runs_and_ends_with_one_newline():
    for name in CASES:
        text = markdown.completion_status(_result(name))
        assert "\n\n\n" not in text and text.endswith("\n") and not text.endswith("\n\n")
