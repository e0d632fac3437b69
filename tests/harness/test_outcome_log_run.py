"""Runs without --repeat, for real: a pass after a failure is flaky, never passed (re-runs in a run, and
runs at the same source state, this machine's and other machines' logs), a quarantined test's failures do
not gate, and `harness combine` writes one line for its shards."""

import json

import pytest

COUNTED = """\
import pathlib

from calc import ops

COUNTER = pathlib.Path({counter!r})  # outside the project: counting changes no file it is keyed by


def attempt(name):
    path = COUNTER / name
    number = int(path.read_text()) + 1 if path.exists() else 1
    path.write_text(str(number))
    return number


def test_fails_the_first_time():
    assert attempt("first") > 1, "not ready the first time"


def test_steady():
    assert ops.add(1, 2) == 3
"""
FIRST = "suites/counted/test_counted.py::test_fails_the_first_time"
BROKEN = "suites/counted/test_broken.py::test_broken"


@pytest.fixture
def counted(throwaway, tmp_path):
    counter = tmp_path / "counter"
    counter.mkdir()
    throwaway.write("suites/counted/test_counted.py", COUNTED.format(counter=str(counter)))
    throwaway.write(
        "suites/counted/test_broken.py", "def test_broken():\n    assert False, 'broken for now'\n"
    )
    return throwaway


def _log(project) -> list[dict]:
    path = project.root / "reports/mod/outcomes.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.is_file() else []


def test_a_pass_on_a_rerun_is_flaky_and_a_quarantined_failure_does_not_gate(counted):
    pytest.importorskip("pytest_rerunfailures")
    quarantine = [{"test": BROKEN, "reason": "broken for now, issue 7"}]
    counted.spec("mod", suites=["suites/counted"], stability={"reruns": 1, "quarantine": quarantine})
    outcome = counted.harness("run", "mod")
    assert outcome.exit_code == 1, outcome.output
    result = counted.result("mod")
    assert result["tests"] == {
        "passed": 1,
        "failed": 0,
        "skipped": 0,
        "errors": 0,
        "flaky": 1,
        "quarantined": 1,
    }
    assert (result["status"], result["reason"]) == ("unstable", "1 flaky test")
    assert result["options"]["reruns"] == 1
    (flaky,) = result["stability"]["flaky"]
    assert (flaky["test"], flaky["rerun_passes"], flaky["failed"]) == (FIRST, 1, 0)
    assert flaky["failures"][0]["message"] == "AssertionError: not ready the first time"
    assert result["stability"]["blocking"] == [
        f"flaky: {FIRST} passed only when run again in 1 of 1 (AssertionError: not ready the first time)"
    ]
    (line,) = _log(counted)
    assert line["tests"] == {  # the log keeps what happened; only the gate spares a quarantined test
        "failed": {"suites/counted/test_broken.py": ["test_broken"]},
        "flaky": {"suites/counted/test_counted.py": ["test_fails_the_first_time"]},
        "passed": {"suites/counted/test_counted.py": ["test_steady"]},
    }
    check = counted.harness("check", "mod")
    assert check.exit_code == 1 and f"blocking: flaky: {FIRST} passed only when run again" in check.output


def test_a_test_that_failed_and_then_passed_at_the_same_source_state_is_flaky_across_runs(counted):
    counted.spec("mod", suites=["suites/counted/test_counted.py"])
    first = counted.harness("run", "mod")
    assert first.exit_code == 1 and counted.result("mod")["status"] == "failed"
    second = counted.harness("run", "mod")
    assert second.exit_code == 1, second.output
    result = counted.result("mod")
    assert (result["status"], result["reason"]) == ("unstable", "1 flaky test across runs")
    (seen,) = result["stability"]["seen_flaky"]
    assert (seen["test"], seen["passed"], seen["failed"], seen["runs"]) == (FIRST, 1, 1, 2)
    assert result["tests"]["passed"] == 2 and result["tests"]["flaky"] == 0  # this run alone passed it
    assert [set(line["tests"]) for line in _log(counted)] == [{"failed", "passed"}, {"passed"}]
    assert len({line["state"] for line in _log(counted)}) == 1


def test_other_machines_logs_are_read_beside_the_modules_own(counted, tmp_path):
    counted.spec("mod", suites=["suites/counted/test_counted.py"])
    counted.harness("run", "mod")  # fails the first time
    counted.harness("run", "mod")
    elsewhere = tmp_path / "ci-artifacts" / "outcomes.jsonl"
    elsewhere.parent.mkdir()
    (counted.root / "reports/mod/outcomes.jsonl").rename(elsewhere)  # another machine's runs
    alone = counted.harness("run", "mod")
    assert alone.exit_code == 0 and counted.result("mod")["stability"] is None
    told = counted.harness("run", "mod", "--history", str(elsewhere))
    assert told.exit_code == 1, told.output
    (seen,) = counted.result("mod")["stability"]["seen_flaky"]
    assert (seen["test"], seen["runs"]) == (FIRST, 4)
    assert len(_log(counted)) == 2 and len(elsewhere.read_text().splitlines()) == 2  # theirs untouched


def test_combine_writes_one_line_for_its_shards(throwaway):
    throwaway.spec("mod", suites=["suites/tests"], stability={"repeat": 2})
    for shard in ("1/2", "2/2"):
        done = throwaway.harness("run", "mod", "--shard", shard)
        assert "Note: a shard runs its tests once; 2 repetitions are for whole runs" in done.output
    assert _log(throwaway) == []
    assert throwaway.harness("combine", "mod").exit_code == 0
    (line,) = _log(throwaway)
    tests = {
        f"{file}::{name}" for names in line["tests"].values() for file, ids in names.items() for name in ids
    }
    assert tests == {
        "suites/tests/test_ops.py::test_add",
        "suites/tests/test_ops.py::TestSign::test_positive",
        "suites/tests/test_ops.py::TestSign::test_negative",
        "suites/tests/test_box.py::TestBox::test_put_then_get",
    }
    assert set(line["tests"]) == {"passed", "skipped"}
