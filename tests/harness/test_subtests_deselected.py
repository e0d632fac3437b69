"""Subtests and deselected tests are counted as pytest counts them, alike serially, with xdist, in shards."""

import pytest

from harness.measure.outcomes import read_records
from harness.run.env import RECORDS_ENV, SHARD_ENV
from harness.run.session import with_deselected

SUBTESTS = """\
import unittest

import pytest


class TableTest(unittest.TestCase):
    def test_rows(self):
        for i in range(5):
            with self.subTest(i=i):
                self.assertLess(i, 4)

    def test_columns(self):
        for i in range(3):
            with self.subTest(i=i):
                self.assertGreaterEqual(i, 0)


def test_fixture(subtests):
    for i in range(3):
        with subtests.test(msg="cell", i=i):
            if i == 2:
                pytest.skip("no third cell")


def test_plain():
    pass


def test_slow_one():
    pass


def test_slow_two():
    pass
"""


@pytest.fixture
def project(pytester, monkeypatch):
    pytester.makepyfile(test_table=SUBTESTS)
    pytester.makeini("[pytest]\naddopts = -p harness.run.plugin -p no:randomly\n")
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")  # only the plugins this test names
    return pytester


def _run(pytester, monkeypatch, name: str, *args: str, shard: str | None = None):
    records = pytester.path / f"{name}.jsonl"
    monkeypatch.setenv(RECORDS_ENV, str(records))
    if shard:
        monkeypatch.setenv(SHARD_ENV, shard)
    result = pytester.runpytest_subprocess("-k", "not slow", *args)
    monkeypatch.delenv(SHARD_ENV, raising=False)
    return records, result


def _counts(outcomes) -> tuple:
    return outcomes.totals.counts(), outcomes.totals.subtests, outcomes.deselected


SERIAL = (
    {"passed": 3, "failed": 1, "skipped": 0, "errors": 0},
    {"passed": 9, "failed": 1, "skipped": 1},
    2,
)


def test_subtests_are_counted_and_a_failed_one_fails_its_test(project, monkeypatch):
    records, result = _run(project, monkeypatch, "serial")
    assert result.ret == 1
    # pytest's own line counts a failed subtest as a test and, at its default verbosity, no other subtest
    result.stdout.fnmatch_lines(["*= 1 failed, 4 passed, 2 deselected in *"])
    outcomes = read_records((records,))
    assert _counts(outcomes) == SERIAL
    assert outcomes.totals.failures == [
        {
            "test": "test_table.py::TableTest::test_rows",
            "message": "subtest (i=4): AssertionError: 4 not less than 4",
            "outcome": "failed",
        }
    ]
    assert outcomes.totals.skips == []  # a skipped subtest does not skip its test
    assert outcomes.files["test_table.py"].classes["TableTest"].subtests == {
        "passed": 7,
        "failed": 1,
        "skipped": 0,
    }


def test_xdist_workers_count_the_same(project, monkeypatch):
    records, result = _run(project, monkeypatch, "workers", "-p", "xdist", "-n", "2")
    result.stdout.no_fnmatch_line("*deselected*")  # what pytest's own line leaves out under xdist
    assert _counts(read_records((records,))) == SERIAL


def test_shards_add_up_to_the_same_counts(project, monkeypatch):
    parts = [_run(project, monkeypatch, f"shard-{k}", shard=f"{k}/2")[0] for k in (1, 2)]
    assert _counts(read_records(tuple(parts))) == SERIAL
    each = [read_records((part,)).deselected for part in parts]
    assert sorted(each) == [1, 1]  # each shard counts its slice of the two deselected tests


@pytest.mark.parametrize(
    ("line", "deselected", "expected"),
    [
        # xdist's controller line gains what its workers deselected, where pytest puts it serially
        (
            "1 failed, 4 passed, 1 skipped, 9 subtests passed in 2.91s",
            2,
            "1 failed, 4 passed, 1 skipped, 2 deselected, 9 subtests passed in 2.91s",
        ),
        ("4 passed, 2 warnings in 1.00s", 3, "4 passed, 3 deselected, 2 warnings in 1.00s"),
        # a shard's line counts the selection's deselected tests, not the slicing's
        ("2 passed, 5 deselected in 0.10s", 1, "2 passed, 1 deselected in 0.10s"),
        ("2 passed, 5 deselected in 0.10s", 0, "2 passed in 0.10s"),
        ("5 deselected in 0.01s", 0, "no tests ran in 0.01s"),
        ("no tests ran in 0.01s", 2, "2 deselected in 0.01s"),
        # unknown count (an older record) or not a count line: as pytest wrote it
        ("2 passed, 5 deselected in 0.10s", None, "2 passed, 5 deselected in 0.10s"),
        ('File "x.py", line 193, in handle', 1, 'File "x.py", line 193, in handle'),
    ],
)
def test_the_summary_line_carries_the_recorded_deselected_count(line, deselected, expected):
    assert with_deselected(line, deselected) == expected
