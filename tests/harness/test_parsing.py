"""Reading pytest's JUnit XML and coverage.py's JSON report into the harness's figures."""

import pytest
from coverage.results import format_lines

from harness import measure
from harness.errors import DataError
from harness.junit import read_junit

JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" tests="6">
  <testcase classname="suites.m.test_a" name="test_ok" file="suites/m/test_a.py" line="1" time="0.1"/>
  <testcase classname="suites.m.test_a.TestX" name="test_skip" file="suites/m/test_a.py" line="5" time="0">
    <skipped type="pytest.skip" message="needs redis">suites/m/test_a.py:5: needs redis</skipped>
  </testcase>
  <testcase classname="suites.m.test_a.TestX" name="test_xfail" file="suites/m/test_a.py" line="9" time="0">
    <skipped type="pytest.xfail" message="known overflow"/>
  </testcase>
  <testcase classname="suites.m.test_a.TestX.TestInner" name="test_fail[1-2]" file="suites/m/test_a.py">
    <failure message="assert 1 == 2&#10;more detail">trace</failure>
    <error message="teardown boom">trace</error>
  </testcase>
  <testcase classname="suites.m.test_b" name="test_setup_error" file="suites/m/test_b.py">
    <error message="fixture 'db' not found">trace</error>
  </testcase>
  <testcase classname="" name="suites.m.test_c" time="0">
    <error message="collection failure">SyntaxError</error>
  </testcase>
</testsuite></testsuites>
"""


def test_junit_outcomes_by_file_and_class(tmp_path):
    path = tmp_path / "junit.xml"
    path.write_text(JUNIT)
    data = read_junit((path, tmp_path / "missing.xml"))
    totals = data["totals"]
    assert totals.counts() == {"passed": 1, "failed": 1, "skipped": 2, "errors": 2}
    assert totals.skips == [
        {"test": "suites/m/test_a.py::TestX::test_skip", "message": "needs redis"},
        {"test": "suites/m/test_a.py::TestX::test_xfail", "message": "xfail: known overflow"},
    ]
    assert [(f["test"], f["outcome"], f["message"]) for f in totals.failures] == [
        ("suites/m/test_a.py::TestX::TestInner::test_fail[1-2]", "failed", "assert 1 == 2"),
        ("suites/m/test_b.py::test_setup_error", "errors", "fixture 'db' not found"),
        ("suites.m.test_c", "errors", "collection failure"),
    ]
    a = data["files"]["suites/m/test_a.py"]
    assert a["tally"].counts() == {"passed": 1, "failed": 1, "skipped": 2, "errors": 0}
    assert {cls: t.counts()["skipped"] for cls, t in a["classes"].items()} == {
        "": 0,
        "TestX": 2,
        "TestX.TestInner": 0,
    }


def test_broken_junit_is_a_data_error(tmp_path):
    path = tmp_path / "junit.xml"
    path.write_text("<testsuites><testcase")
    with pytest.raises(DataError, match="unreadable JUnit XML"):
        read_junit((path,))


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
    ranges = measure.line_ranges(statements, missing)
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
    fig = measure.file_figures(report)["pkg/mod.py"]
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
    assert measure._split_percents(summary) == {"lines_percent": 75.0, "branches_percent": 50.0}
    assert measure._split_percents({**summary, "num_branches": 0}) == {
        "lines_percent": 75.0,
        "branches_percent": None,
    }
