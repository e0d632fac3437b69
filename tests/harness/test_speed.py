"""What makes runs fast must not change what they measure: workers, bytecode cache, step contexts, jobs."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import coverage
import pytest

from harness.measure import coverage as coverage_reports
from harness.measure.session import EarlyReports
from harness.run import background, workers
from harness.run.progress import Silent
from harness.run.session import RunOptions, _follow, _Tail, bytecode_env, run_session
from harness.run.workers import Advice, Timing
from harness.spec.model import Step, Suite

OPS = "calc/ops.py"
OPS_SUITE, BOX_SUITE = "suites/tests/test_ops.py", "suites/tests/test_box.py"
SLOW_JUNIT = """<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite>
{}
</testsuite></testsuites>"""


@pytest.mark.parametrize(
    ("timing", "cpus", "shards", "count", "why"),
    [
        (Timing(300, 30.0), 1, 1, 1, "1 CPU available"),
        (None, 4, 1, 1, "no earlier run"),
        (Timing(3000, 6.0), 4, 1, 1, "2.0 ms each on average"),
        (Timing(100, 8.0), 4, 1, 1, "took 8.0 s, too little"),
        (Timing(278, 20.0), 2, 1, 2, "278 tests took 20 s; 2 CPUs"),
        (Timing(278, 20.0), 8, 1, 4, "278 tests"),  # a worker per 5 s of tests
        (Timing(278, 20.0), 8, 2, 2, "278 tests"),  # a shard runs half of them
        (Timing(278, 20.0), 8, 4, 1, "took 5.0 s, too little"),
    ],
)
def test_auto_sizes_workers_from_the_last_run(timing, cpus, shards, count, why):
    advice = workers.advise(timing, cpus, shards)
    assert advice.count == count and why in advice.reason


def test_last_timing_reads_the_junit_beside_the_report(tmp_path):
    junit = tmp_path / "junit.xml"
    assert workers.last_timing(junit) is None
    junit.write_text(SLOW_JUNIT.format('<testcase name="a" time="1.5"/><testcase name="b" time="0.5"/>'))
    assert workers.last_timing(junit) == Timing(2, 2.0)
    junit.write_text("<testsuites><testsuite")
    assert workers.last_timing(junit) is None


def _slow_history(throwaway, seconds: float) -> None:
    """A junit.xml beside the report as a run of slow tests would leave it."""
    cases = "".join(f'<testcase name="t{i}" time="{seconds}"/>' for i in range(10))
    throwaway.write("reports/mod-a/junit.xml", SLOW_JUNIT.format(cases))


def test_workers_auto_runs_serially_first_then_sizes_from_the_last_run(throwaway, monkeypatch):
    monkeypatch.setattr(workers, "usable_cpus", lambda: 2)
    throwaway.spec("mod-a", suites=[OPS_SUITE, BOX_SUITE])
    first = throwaway.harness("run", "mod-a", "--workers", "auto")
    assert "Workers: none, serial (no earlier run to size them from)" in first.output
    serial = throwaway.result("mod-a")
    assert serial["options"]["workers"] is None
    _slow_history(throwaway, 2.0)  # as if the tests had taken 20 s
    second = throwaway.harness("run", "mod-a", "--workers", "auto")
    assert second.exit_code == 0 and "Workers: 2 (the last run's 10 tests took 20 s; 2 CPUs)" in second.output
    parallel = throwaway.result("mod-a")
    assert parallel["options"]["workers"] == 2
    assert (parallel["tests"], parallel["files"]) == (serial["tests"], serial["files"])


def test_workers_that_will_not_pay_off_run_with_a_note(throwaway, monkeypatch):
    monkeypatch.setattr(workers, "usable_cpus", lambda: 2)
    throwaway.spec("mod-a", suites=[OPS_SUITE])
    _slow_history(throwaway, 0.001)
    outcome = throwaway.harness("run", "mod-a", "--workers", "2")
    assert outcome.exit_code == 0 and throwaway.result("mod-a")["options"]["workers"] == 2
    assert (
        "Note: --workers 2 is likely slower than serial here: the last run's tests took 1.0 ms"
        in outcome.output
    )


@pytest.mark.parametrize("value", ["0", "many", "-1"])
def test_workers_takes_a_count_or_auto(throwaway, value):
    throwaway.spec("mod-a", suites=[OPS_SUITE])
    outcome = throwaway.harness("run", "mod-a", "--workers", value)
    assert outcome.exit_code == 2 and "Invalid value for '--workers'" in outcome.output


def test_bytecode_goes_to_a_cache_outside_the_project_only_when_python_writes_none(tmp_path):
    cache = str(tmp_path / "cache")
    assert bytecode_env({"XDG_CACHE_HOME": cache}) == {"XDG_CACHE_HOME": cache}
    env = bytecode_env({"PYTHONDONTWRITEBYTECODE": "1", "XDG_CACHE_HOME": cache})
    assert env == {"XDG_CACHE_HOME": cache, "PYTHONPYCACHEPREFIX": f"{cache}/harness/pycache"}
    chosen = {"PYTHONDONTWRITEBYTECODE": "1", "PYTHONPYCACHEPREFIX": "/elsewhere"}
    assert bytecode_env(chosen) == chosen  # the user's own choice stands
    relative = bytecode_env({"PYTHONDONTWRITEBYTECODE": "1", "XDG_CACHE_HOME": "rel", "HOME": cache})
    assert relative["PYTHONPYCACHEPREFIX"] == f"{cache}/.cache/harness/pycache"


def test_a_run_without_bytecode_writes_none_into_the_project(throwaway, monkeypatch, tmp_path):
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    monkeypatch.delenv("PYTHONPYCACHEPREFIX", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    throwaway.spec("mod-a", suites=[OPS_SUITE])
    assert throwaway.harness("run", "mod-a").exit_code == 0
    assert not list(throwaway.root.rglob("__pycache__"))
    cached = [p.name for p in (tmp_path / "cache/harness/pycache").rglob("*.pyc")]
    assert any(name.startswith("test_ops.") and "pytest" in name for name in cached)  # asserts rewritten once


def test_each_test_runs_under_its_steps_context(throwaway, tmp_path):
    """The session plugin labels lines by step set; import-time lines keep the empty context."""
    steps = (
        Step("Box", (Suite(BOX_SUITE),), ()),
        Step("Ops", (Suite(OPS_SUITE), Suite(BOX_SUITE, k="nothing")), ()),
    )
    suites = (Suite(OPS_SUITE), Suite(BOX_SUITE))
    work = tmp_path / "work"
    session = run_session(
        throwaway.root, suites, ("calc",), work, RunOptions(), lambda line: None, steps=steps
    )
    assert session.exit_codes == (0,)
    data = coverage.CoverageData(str(session.data_file))
    data.read()
    assert data.measured_contexts() == {"", "harness-steps:1", "harness-steps:2"}


def test_a_spec_with_steps_refuses_a_cov_context_of_its_own(throwaway):
    throwaway.spec("mod-a", suites=[OPS_SUITE], steps=[{"name": "Box", "suites": [BOX_SUITE]}])
    outcome = throwaway.harness("run", "mod-a", "--", "--cov-context=test")
    assert outcome.exit_code == 2
    assert (
        outcome.output
        == "Error: mod-a: drop --cov-context (its steps' figures need the harness's own contexts)\n"
    )


def _figures(path: Path) -> dict:
    result = json.loads(path.read_text(encoding="utf-8"))
    return {key: result[key] for key in ("status", "tests", "overall", "files", "steps", "suites")}


def test_forked_jobs_write_what_inline_jobs_write(throwaway, tmp_path, monkeypatch):
    """The console script forks its background jobs (one thread); in-process, forced inline: same files."""
    throwaway.spec("mod-a", suites=[OPS_SUITE, BOX_SUITE], targets={OPS: 99})
    other = type(throwaway)(tmp_path / "inline")
    shutil.copytree(throwaway.root, other.root)
    exe = str(Path(sys.executable).parent / "harness")
    done = subprocess.run(
        [exe, "run", "mod-a"], cwd=throwaway.root, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1, done.stdout + done.stderr
    monkeypatch.setattr(background.Jobs, "_can_fork", lambda self: False)
    assert other.harness("run", "mod-a").exit_code == 1
    forked, inline = (p.root / "reports/mod-a" for p in (throwaway, other))
    for name in ("charts/files.svg", "charts/coverage-trend.svg", "badge.svg", "results.json"):
        if name == "results.json":  # the same figures; only the times differ
            assert _figures(forked / name) == _figures(inline / name)
        else:
            assert (forked / name).read_bytes() == (inline / name).read_bytes(), name
    assert sorted(p.name for p in (forked / "htmlcov").iterdir()) == sorted(
        p.name for p in (inline / "htmlcov").iterdir()
    )
    assert (forked / "coverage.xml").read_text().count("<line ") == (
        inline / "coverage.xml"
    ).read_text().count("<line ")


def test_advice_is_plain_data():
    assert Advice(2, "why") == Advice(2, "why")


def test_the_session_plugin_says_when_the_session_is_over(throwaway, tmp_path):
    work = tmp_path / "work"
    session = run_session(
        throwaway.root, (Suite(OPS_SUITE),), ("calc",), work, RunOptions(), lambda line: None
    )
    assert session.exit_codes == (0,)
    records = [json.loads(line) for line in (work / "tests-1.jsonl").read_text().splitlines()]
    assert records[-1] == {"event": "session_finished", "exitstatus": 0}


class _ExitingPytest:
    """A pytest process whose session ends at its third poll and which exits once `exiting` is set
    (or, so that a test cannot hang, at its tenth poll)."""

    def __init__(self, records: Path):
        self.records, self.polls, self.exiting = records, 0, False

    def wait(self, timeout=None):
        self.polls += 1
        if self.polls == 3:
            with self.records.open("a", encoding="utf-8") as out:
                out.write('{"event": "session_finished", "exitstatus": 0}\n')
        if self.exiting or self.polls >= 10:
            return 0
        raise subprocess.TimeoutExpired("pytest", timeout)


def test_while_exiting_runs_once_the_session_is_over_and_before_pytest_exits(tmp_path):
    records = tmp_path / "tests-1.jsonl"
    records.write_text('{"event": "collected", "count": 1}\n', encoding="utf-8")
    proc = _ExitingPytest(records)
    calls = []

    def while_exiting():
        calls.append(proc.polls)
        proc.exiting = True

    assert _follow(proc, _Tail(records), Silent(), while_exiting) == 0
    assert calls == [3]  # once, right after the poll that saw the session end, while pytest still ran
    assert proc.polls == 4


def test_reports_made_early_are_used_only_for_the_data_they_read(throwaway, tmp_path):
    work = tmp_path / "work"
    session = run_session(
        throwaway.root, (Suite(OPS_SUITE),), ("calc",), work, RunOptions(), lambda line: None
    )
    early = EarlyReports(throwaway.root, work / "out", ())
    early(session.data_file)
    made = early.take(session.data_file)
    assert made is not None and (work / "out/coverage.xml").is_file() and (work / "out/htmlcov").is_dir()
    again = coverage_reports.json_report(throwaway.root, session.data_file, tmp_path / "again")
    assert made["files"] == again["files"] and made["totals"] == again["totals"]
    session.data_file.write_bytes(session.data_file.read_bytes() + b"\0")  # written to after it was read
    assert early.take(session.data_file) is None
    never_made = EarlyReports(throwaway.root, tmp_path / "none", ())
    never_made(tmp_path / "none/.coverage")  # no data file: nothing is made
    assert never_made.take(tmp_path / "none/.coverage") is None
