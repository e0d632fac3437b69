"""Large modules: the report summarises met files and cuts long lists; small ones read as before."""

import pytest

from benchmarks.synthetic import large_result
from harness.report import markdown


@pytest.fixture(scope="module")
def big():
    result = large_result(10_000)
    return result, markdown.completion_status(result)


def test_ten_thousand_files_stay_under_a_megabyte(big):
    _, text = big
    assert len(text.encode("utf-8")) < 1_000_000


def test_files_below_target_come_first_furthest_first(big):
    result, text = big
    below = [p for p, e in result["files"].items() if e["met"] is False]
    assert f"10000 files: **{len(below)} below a target**" in text
    rows = [line for line in text.split("<details>")[0].splitlines() if line.startswith("| `pkg/")]
    assert len(rows) == markdown.TABLE_ROWS
    shown = [row.split("`")[1] for row in rows]
    gaps = [markdown.shortfall(result["files"][p]) for p in shown]
    assert gaps == sorted(gaps, reverse=True) and set(shown) <= set(below)
    assert f"… and {len(below) - markdown.TABLE_ROWS} more files below target" in text


def test_met_files_are_collapsed_and_counted(big):
    result, text = big
    met = sum(1 for e in result["files"].values() if e["met"] is not False)
    assert f"<details><summary>{met} files meeting their targets or without one</summary>" in text
    assert f"… and {met - markdown.TABLE_ROWS} more: see `results.json`" in text


def test_gap_analysis_in_full_for_the_furthest_then_one_line_each(big):
    result, text = big
    gaps = text.split("## Gap Analysis")[1]
    assert gaps.count("\n### `pkg/") == markdown.FULL_GAPS
    further = gaps.split("### Further files below target")[1]
    assert sum(1 for line in further.splitlines() if line.startswith("| `pkg/")) == markdown.COMPACT_GAPS
    below = sum(1 for e in result["files"].values() if e["met"] is False)
    assert f"… and {below - markdown.FULL_GAPS - markdown.COMPACT_GAPS} more files below target" in further


def test_a_module_at_the_threshold_is_not_summarised():
    result = large_result(markdown.SUMMARISE_ABOVE)
    text = markdown.completion_status(result)
    assert "<details>" not in text and "Further files below target" not in text
    table = text.split("## File Coverage")[1].split("\n## ")[0]
    assert [line.split("`")[1] for line in table.splitlines() if line.startswith("| `")] == list(
        result["files"]
    )
    below = [p for p, e in result["files"].items() if e["met"] is False]
    assert [line[5:].split("`")[0] for line in text.splitlines() if line.startswith("### `")] == below
