"""Test outcomes are counted under the file that collected each test (node ids), whatever the layout."""

import json
import xml.etree.ElementTree as ET
from typing import NamedTuple

import pytest

from harness.measure.outcomes import read_records
from harness.report import junit
from harness.run.env import RECORDS_ENV
from harness.spec.nodeids import split_nodeid

BASE = """\
import pytest


class BaseChecks:
    def test_one(self):
        assert self.value > 0

    @pytest.mark.parametrize("n", [1, 2, 3])
    def test_many(self, n):
        assert n * self.value

    @pytest.mark.skip(reason="not on this backend")
    def test_skipped(self):
        pass
"""

SUB_A = """\
from checks.base_checks import BaseChecks


class TestMemory(BaseChecks):
    value = 1
"""

SUB_B = """\
import pytest

from checks.base_checks import BaseChecks


class TestDisk(BaseChecks):
    value = 2

    @pytest.mark.xfail(reason="disk is slow")
    def test_extra(self):
        assert False


@pytest.fixture
def broken():
    raise RuntimeError("no disk")


def test_setup_error(broken):
    pass


def test_fails():
    assert 1 == 2, "one is not two"
"""


@pytest.fixture
def inherited(pytester, monkeypatch):
    """A base test class in one file, subclasses in two others, plus every kind of outcome."""
    pytester.makepyfile(
        **{
            "checks/__init__.py": "",
            "checks/base_checks.py": BASE,
            "checks/test_memory.py": SUB_A,
            "checks/test_disk.py": SUB_B,
            "checks/test_broken.py": "def test_x(:\n    pass\n",
        }
    )
    pytester.makeini("[pytest]\naddopts = -p harness.run.plugin\n")
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")  # only the plugins this test names
    records = pytester.path / "records.jsonl"
    monkeypatch.setenv(RECORDS_ENV, str(records))
    return records


EXPECTED_FILES = {
    "checks/test_memory.py": {"TestMemory": {"passed": 4, "failed": 0, "skipped": 1, "errors": 0}},
    "checks/test_disk.py": {
        "TestDisk": {"passed": 4, "failed": 0, "skipped": 2, "errors": 0},
        "": {"passed": 0, "failed": 1, "skipped": 0, "errors": 1},
    },
    "checks/test_broken.py": {"": {"passed": 0, "failed": 0, "skipped": 0, "errors": 1}},
}


def _by_file(outcomes) -> dict:
    return {
        file: {cls: tally.counts() for cls, tally in entry.classes.items()}
        for file, entry in outcomes.files.items()
    }


def test_inherited_tests_count_under_the_collecting_file(pytester, inherited):
    pytester.runpytest("--continue-on-collection-errors")
    outcomes = read_records((inherited,))
    assert _by_file(outcomes) == EXPECTED_FILES
    assert "checks/base_checks.py" not in outcomes.files
    assert outcomes.totals.counts() == {"passed": 8, "failed": 1, "skipped": 3, "errors": 2}
    assert [(f["test"], f["outcome"], f["message"]) for f in outcomes.totals.failures] == [
        ("checks/test_broken.py (collection)", "errors", "SyntaxError: invalid syntax"),
        ("checks/test_disk.py::test_setup_error", "errors", "RuntimeError: no disk"),
        ("checks/test_disk.py::test_fails", "failed", "AssertionError: one is not two"),
    ]
    assert {s["test"]: s["message"] for s in outcomes.totals.skips} == {
        "checks/test_memory.py::TestMemory::test_skipped": "not on this backend",
        "checks/test_disk.py::TestDisk::test_skipped": "not on this backend",
        "checks/test_disk.py::TestDisk::test_extra": "xfail: disk is slow",
    }
    assert set(outcomes.durations) >= {"checks/test_memory.py::TestMemory::test_many[2]"}
    assert outcomes.failed() == {
        "checks/test_broken.py (collection)",
        "checks/test_disk.py::test_setup_error",
        "checks/test_disk.py::test_fails",
    }
    assert outcomes.startup > 0  # the `collected` record's seconds since the plugin was loaded


def test_xdist_workers_give_the_same_counts(pytester, inherited):
    pytester.runpytest_subprocess("-p", "xdist", "-n", "2", "--continue-on-collection-errors")
    assert _by_file(read_records((inherited,))) == EXPECTED_FILES
    records = [json.loads(line) for line in inherited.read_text().splitlines()]
    collected = [r for r in records if r["event"] == "collected"]
    assert [(r["event"], r["count"]) for r in collected] == [("collected", 13)]
    assert 0 < collected[0]["seconds"] < 60  # from the plugin's loading: the session's start-up


@pytest.mark.parametrize(
    ("nodeid", "expected"),
    [
        ("t/test_a.py::test_x", ("t/test_a.py", "")),
        ("t/test_a.py::TestA::test_x[1-2]", ("t/test_a.py", "TestA")),
        ("t/test_a.py::TestA::TestB::test_x", ("t/test_a.py", "TestA.TestB")),
        ("t/test_a.py::test_x[a::b]", ("t/test_a.py", "")),
    ],
)
def test_split_nodeid(nodeid, expected):
    assert split_nodeid(nodeid) == expected


class Case(NamedTuple):
    """One test case of a JUnit document: its names and place, verdict elements and properties."""

    where: tuple
    verdicts: list[tuple]
    properties: list[tuple]


def _cases(xml: bytes) -> list[Case]:
    cases = []
    for case in ET.fromstring(xml).iter("testcase"):
        cases.append(
            Case(
                where=(case.get("classname"), case.get("name"), case.get("file"), case.get("line")),
                verdicts=[(c.tag, c.get("type"), c.get("message")) for c in case if c.tag != "properties"],
                properties=[(p.get("name"), p.get("value")) for p in case.iter("property")],
            )
        )
    return sorted(cases, key=lambda case: case.where[:2])


def test_junit_from_records_names_every_test_as_pytest_does(pytester, inherited):
    pytester.makepyfile(
        **{"checks/test_props.py": "def test_tagged(record_property):\n    record_property('ticket', 42)\n"}
    )
    own = pytester.path / "pytest-junit.xml"
    pytester.runpytest("--continue-on-collection-errors", f"--junitxml={own}", "-o", "junit_family=xunit1")
    ours, theirs = _cases(junit.from_records([inherited])), _cases(own.read_bytes())
    # Test by test the same names, place, kind of verdict and properties (pytest words skips its way).
    assert [c.where for c in ours] == [c.where for c in theirs]
    assert [[v[0] for v in c.verdicts] for c in ours] == [[v[0] for v in c.verdicts] for c in theirs]
    assert [c.properties for c in ours] == [c.properties for c in theirs]
    by_name = {case.where[1]: case for case in ours}
    assert by_name["test_fails"].verdicts == [("failure", None, "AssertionError: one is not two")]
    assert by_name["test_extra"].verdicts == [("skipped", "pytest.xfail", "xfail: disk is slow")]
    assert by_name["test_tagged"].properties == [("ticket", "42")]
    document = ET.fromstring(junit.from_records([inherited]))
    suite = document.find("testsuite")
    assert {k: suite.get(k) for k in ("tests", "failures", "errors", "skipped")} == {
        "tests": "15",
        "failures": "1",
        "errors": "2",
        "skipped": "3",
    }
    failure = document.find(".//testcase[@name='test_fails']/failure")
    assert "assert 1 == 2" in failure.text  # the full failure text, as pytest shows it


def test_junit_text_drops_what_xml_cannot_carry(tmp_path):
    records = tmp_path / "tests.jsonl"
    record = {"event": "test", "nodeid": "t/test_a.py::test_x", "outcome": "failed", "message": "bad\x1b[31m"}
    records.write_text(json.dumps(record) + "\n")
    failure = ET.fromstring(junit.from_records([records])).find(".//failure")
    assert failure.get("message") == "bad#x1B[31m"
