"""The session plugin's `$HARNESS_SELECT` (only the affected tests) and `$HARNESS_READS` (what a
process imported, opened and listed), through real pytest runs."""

import json

import pytest

from harness.run.env import READS_ENV, SELECT_ENV, SHARD_ENV

TESTS = """\
import pytest


def test_one():
    pass


def test_two():
    pass


@pytest.mark.parametrize("n", [1, 2])
def test_many(n):
    pass
"""


@pytest.fixture
def suite(pytester, monkeypatch):
    monkeypatch.delenv("DJANGO_SETTINGS_MODULE", raising=False)
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")  # only the plugin under test: fast starts
    pytester.makepyfile(test_a=TESTS, test_b="def test_b():\n    pass\n")
    return pytester


def _select(pytester, monkeypatch, tests=(), files=()):
    path = pytester.path / "selection.json"
    path.write_text(json.dumps({"tests": list(tests), "files": list(files)}), encoding="utf-8")
    monkeypatch.setenv(SELECT_ENV, str(path))


def test_only_the_named_tests_and_files_run(suite, monkeypatch):
    _select(
        suite,
        monkeypatch,
        tests=["test_a.py::test_two", "test_a.py::test_many[2]", "gone.py::x"],
        files=["test_b.py"],
    )
    result = suite.runpytest_subprocess("-p", "harness.run.plugin", "-v")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["*test_two PASSED*", "*test_many?2? PASSED*", "*test_b PASSED*"])
    assert "2 deselected" in result.stdout.str()


def test_an_empty_selection_runs_nothing_and_a_shard_splits_the_selection(suite, monkeypatch):
    _select(suite, monkeypatch)
    suite.runpytest_subprocess("-p", "harness.run.plugin").assert_outcomes(deselected=5)
    _select(suite, monkeypatch, files=["test_a.py"])
    monkeypatch.setenv(SHARD_ENV, "1/2")
    suite.runpytest_subprocess("-p", "harness.run.plugin").assert_outcomes(passed=2, deselected=3)


def test_reads_are_written_per_process(suite, monkeypatch):
    suite.makepyfile(test_c="from pathlib import Path\n\ndef test_c():\n    Path('data.txt').read_text()\n")
    (suite.path / "data.txt").write_text("x", encoding="utf-8")
    monkeypatch.setenv(READS_ENV, str(suite.path / "reads"))
    suite.runpytest_subprocess("-p", "harness.run.plugin", "test_c.py").assert_outcomes(passed=1)
    [written] = list((suite.path / "reads").glob("*.json"))
    doc = json.loads(written.read_text(encoding="utf-8"))
    assert str(suite.path / "data.txt") in doc["opened"]
    assert str(suite.path / "test_c.py") in doc["imported"]
    assert str(suite.path) in doc["listed"]
