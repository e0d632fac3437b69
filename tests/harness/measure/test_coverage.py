"""Reading coverage.py's JSON report into the harness's figures."""

import pytest
from coverage.results import format_lines

from harness.measure import coverage


@pytest.mark.parametrize(
    ("statements", "missing"),
    [
        ([1, 2, 3, 5, 8, 9, 10], [2, 3, 5, 9]),
        ([1, 2, 3], []),
        ([1, 2, 3], [1, 2, 3]),
        ([4, 10, 20, 21], [4, 20, 21]),
    ],
)
def test_line_ranges_agree_with_coverage_format_lines(statements, missing):
    ranges = coverage.line_ranges(statements, missing)
    text = ", ".join(f"{a}-{b}" if a != b else str(a) for a, b in ranges)
    assert text == format_lines(statements, missing)


def _region(executed, missing, start=None, **summary):
    return {
        "executed_lines": executed,
        "missing_lines": missing,
        "start_line": start,
        "summary": {"num_statements": len(executed) + len(missing), "missing_lines": len(missing),
                    "percent_covered": 100.0 * len(executed) / (len(executed) + len(missing)), **summary},
    }  # fmt: skip


def test_file_figures_from_a_format_3_report():
    summary = {"covered_lines": 6, "num_statements": 9, "percent_covered": 61.53846153846154,
               "missing_lines": 3, "num_branches": 4, "covered_branches": 2,
               "percent_statements_covered": 66.66666666666667, "percent_branches_covered": 50.0}  # fmt: skip
    report = {
        "files": {
            "pkg/mod.py": {
                "summary": summary,
                "executed_lines": [1, 2, 3, 6, 7, 9],
                "missing_lines": [4, 5, 10],
                "missing_branches": [[3, 4], [9, -1]],
                "functions": {
                    "f": _region([2, 3], [4, 5], 1),
                    "C.g": _region([7, 9], [10], 6),
                    "": _region([1, 6], []),
                },
                "classes": {"C": _region([7, 9], [10]), "": _region([1, 2, 3, 6], [4, 5])},
            }
        }
    }
    fig = coverage.file_figures(report)["pkg/mod.py"]
    assert fig["percent"] == 61.53846153846154  # coverage.py's own figure, unrounded
    assert (fig["statements"], fig["missed"], fig["lines_percent"], fig["branches_percent"]) == (
        9,
        3,
        66.66666666666667,
        50.0,
    )
    assert fig["missing"] == "4-5, 10"
    assert fig["missing_branches"] == ["3->4", "9->exit"]
    assert fig["gaps"] == [
        {"lines": "4-5", "count": 2, "functions": ["f"], "classes": []},
        {"lines": "10", "count": 1, "functions": ["C.g"], "classes": ["C"]},
    ]
    assert [f["name"] for f in fig["functions"]] == ["f", "C.g"]


def test_percents_computed_when_an_older_report_lacks_them():
    summary = {"covered_lines": 3, "num_statements": 4, "num_branches": 2, "covered_branches": 1}
    assert coverage.split_percents(summary) == {"lines_percent": 75.0, "branches_percent": 50.0}
    assert coverage.split_percents({**summary, "num_branches": 0}) == {
        "lines_percent": 75.0,
        "branches_percent": None,
    }
