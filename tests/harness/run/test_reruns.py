"""Re-run failed tests (pytest-rerunfailures): the records keep each failed attempt, one record a test."""

import json

import pytest

from harness.measure.outcomes import read_records
from harness.run.env import RECORDS_ENV

pytest.importorskip("pytest_rerunfailures")

# Each test counts its attempts in a file, so "fails the first time" is deterministic.
TESTS = """
import pathlib

import pytest


def attempt(name):
    path = pathlib.Path(__file__).with_name(f".{name}.count")
    count = int(path.read_text()) + 1 if path.exists() else 1
    path.write_text(str(count))
    return count


def test_fails_once():
    assert attempt("once") > 1, "first attempt fails"


def test_always_fails():
    assert attempt("always") < 0, "every attempt fails"


@pytest.fixture
def flaky_resource():
    if attempt("setup") == 1:
        raise RuntimeError("resource not ready")


def test_setup_fails_once(flaky_resource):
    pass


def test_passes():
    pass
"""


@pytest.fixture
def records(pytester, monkeypatch):
    pytester.makepyfile(test_attempts=TESTS)
    pytester.makeini("[pytest]\naddopts = -p harness.run.plugin -p rerunfailures -p no:cacheprovider\n")
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    path = pytester.path / "records.jsonl"
    monkeypatch.setenv(RECORDS_ENV, str(path))
    return path


def _tests(path) -> dict[str, dict]:
    found = [json.loads(line) for line in path.read_text().splitlines()]
    tests = [r for r in found if r["event"] == "test"]
    assert len(tests) == len({r["nodeid"] for r in tests}), "one record a test, whatever its attempts"
    return {r["nodeid"].split("::")[1]: r for r in tests}


@pytest.mark.parametrize("workers", [(), ("-p", "xdist", "-n", "2")], ids=["one process", "xdist"])
def test_every_failed_attempt_is_kept_with_the_final_outcome(pytester, records, workers):
    result = pytester.runpytest("--reruns", "2", *workers)
    counts = result.parseoutcomes()
    assert {name: counts.get(name) for name in ("passed", "failed", "rerun")} == {
        "passed": 3,
        "failed": 1,
        "rerun": 4,
    }
    tests = _tests(records)
    once = tests["test_fails_once"]
    assert once["outcome"] == "passed"
    assert [(a["outcome"], a["message"]) for a in once["reruns"]] == [
        ("failed", "AssertionError: first attempt fails")
    ]
    assert "assert 1 > 1" in once["reruns"][0]["details"]
    always = tests["test_always_fails"]
    assert always["outcome"] == "failed" and len(always["reruns"]) == 2
    setup = tests["test_setup_fails_once"]
    assert setup["outcome"] == "passed"
    assert [(a["outcome"], a["message"]) for a in setup["reruns"]] == [
        ("errors", "RuntimeError: resource not ready")
    ]
    assert "reruns" not in tests["test_passes"]
    # The counts stay by final outcome: the records carry what a stability report needs to call it flaky.
    assert read_records((records,)).totals.counts() == {"passed": 3, "failed": 1, "skipped": 0, "errors": 0}


def test_without_reruns_a_failure_is_final(pytester, records):
    pytester.runpytest().assert_outcomes(passed=1, failed=2, errors=1)
    tests = _tests(records)
    assert tests["test_fails_once"]["outcome"] == "failed" and "reruns" not in tests["test_fails_once"]
