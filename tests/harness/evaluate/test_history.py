"""Run history read back from trace.yml: interleaved, interrupted and broken events, and `harness history`."""

import dataclasses
import json

import pytest
import yaml

from harness.evaluate import history
from harness.evaluate.history import Run
from harness.spec.project import Project
from harness.store import trace
from harness.store.trace import Counts

# Two modules' runs interleaved as concurrent runs append them, an interrupted run, a step run, a
# shard-combine, a mutation score, and what hand edits or older harness versions leave behind.
TRACE = """\
- {at: '2026-01-01T10:00:00+00:00', event: run_started, module: mod-a, commit: null, step: null, shard: null}
- {at: '2026-01-01T10:00:01+00:00', event: run_started, module: mod-b, commit: null, step: null, shard: null}
- at: '2026-01-01T10:00:05+00:00'
  event: run_finished
  module: mod-b
  commit: bbbbbbbbbbbb
  step: null
  status: complete
  reason: null
  tests: {passed: 3, failed: 0, skipped: 0, errors: 0}
  overall: 90.0
  unmet: []
  files: {calc/ops.py: 90.0}
- at: '2026-01-01T10:00:06+00:00'
  event: run_finished
  module: mod-a
  commit: aaaaaaaaaaaaaaaa
  step: null
  status: in_progress
  reason: null
  tests: {passed: 2, failed: 0, skipped: 1, errors: 0}
  overall: 50.0
  unmet: [calc/ops.py]
  files: {calc/__init__.py: 100.0, calc/ops.py: 40.0}
  metrics: {lat: {unit: ms, count: 40, p95: 61.5}}
- {at: '2026-01-01T10:00:07+00:00', event: mutation_finished, module: mod-a, score: 75.5}
- {at: '2026-01-01T11:00:00+00:00', event: run_started, module: mod-a, commit: null, step: null, shard: null}
- {at: '2026-01-01T11:00:09+00:00', event: run_interrupted, module: mod-a, commit: null, step: null}
- at: '2026-01-01T12:00:00+00:00'
  event: run_finished
  module: mod-a
  commit: cccccccccccc
  step: 1
  status: complete
  reason: null
  tests: {passed: 1, failed: 0, skipped: 0, errors: 0}
  overall: 66.5
  files: {calc/ops.py: 66.5}
- just a line someone typed
- at: '2026-01-01T13:00:00+00:00'
  event: run_finished
  module: mod-a
  commit: null
  step: null
  status: failed
  reason: 1 test failed or errored
  tests: {passed: 1, failed: 1, skipped: 0, errors: 0}
  overall: null
  files: {}
- {at: '2026-01-02T08:00:00+00:00', event: shard_finished, module: mod-a, shard: 1/3, exit_codes: [0]}
- at: 2026-01-02T09:00:00+00:00
  event: run_finished
  module: mod-a
  commit: 12345
  step: null
  shards: 3
  status: complete
  tests: lots
  overall: 80
  target: 75
  files: [calc/ops.py]
- {event: run_finished, status: complete, overall: 99.0}
"""

FIRST = Run(
    at="2026-01-01T10:00:06+00:00",
    commit="aaaaaaaaaaaaaaaa",
    step=None,
    shards=None,
    status="in_progress",
    reason=None,
    tests=Counts(passed=2, failed=0, skipped=1, errors=0),
    overall=50.0,
    target=None,
    files={"calc/__init__.py": 100.0, "calc/ops.py": 40.0},
    mutation=75.5,
    unmet=("calc/ops.py",),
    metrics={"lat": trace.MetricFigure("ms", count=40, p95=61.5)},
)
FAILED = Run(
    at="2026-01-01T13:00:00+00:00",
    commit=None,
    step=None,
    shards=None,
    status="failed",
    reason="1 test failed or errored",
    tests=Counts(passed=1, failed=1, skipped=0, errors=0),
    overall=None,
    target=None,
    files={},
)
# The hand-edited one: unquoted date, numeric commit, no reason, tests and files of the wrong type.
COMBINED = Run(
    at="2026-01-02T09:00:00+00:00",
    commit=None,
    step=None,
    shards=3,
    status="complete",
    reason=None,
    tests=None,
    overall=80.0,
    target=75.0,
    files={},
)


def _events(text: str = TRACE) -> list[trace.Event]:
    """The events trace.yml's one reader makes of `text` (what it does not know, it skips)."""
    return [event for event in map(trace.parse, yaml.safe_load(text)) if event is not None]


def test_finished_runs_of_one_module_in_trace_order():
    runs = history.runs_from_events(_events(), "mod-a")
    assert runs == [FIRST, FAILED, COMBINED]


def test_step_runs_are_their_own_history():
    [run] = history.runs_from_events(_events(), "mod-a", step=1)
    assert (run.step, run.overall, run.commit) == (1, 66.5, "cccccccccccc")
    assert history.runs_from_events(_events(), "mod-a", step=2) == []


def test_a_mutation_event_before_any_run_is_not_a_run():
    events = [trace.MutationFinished(module="m", score=50.0)]
    assert history.runs_from_events(events, "m") == []


def test_delta_skips_runs_without_a_figure():
    runs = [FIRST, FAILED, COMBINED]
    assert history.deltas(runs) == [None, None, 30.0]
    assert history.deltas(runs, "calc/ops.py") == [None, None, None]


@pytest.fixture
def traced(throwaway):
    throwaway.spec("mod-a", suites=["suites/tests/test_ops.py"])
    (throwaway.root / "trace.yml").write_text(TRACE, encoding="utf-8")
    return throwaway


TABLE = """\
mod-a: 3 finished runs
Date              Commit   Status       Tests                Overall      Δ  Notes
2026-01-01 10:00  aaaaaaa  In Progress  2 passed, 1 skipped    50.0%      —  mutation 75.5%
2026-01-01 13:00  —        Failed       1 passed, 1 failed         —      —  1 test failed or errored
2026-01-02 09:00  —        Complete     —                      80.0%  +30.0  3 shards combined
"""


def test_history_prints_a_table_oldest_first(traced):
    done = traced.harness("history", "mod-a")
    assert done.exit_code == 0
    assert done.output == TABLE


def test_limit_keeps_the_latest_runs_and_their_deltas(traced):
    done = traced.harness("history", "mod-a", "--limit", "1")
    assert done.output.splitlines()[0] == "mod-a: last 1 of 3 finished runs"
    assert done.output.splitlines()[2].split() == TABLE.splitlines()[4].split()


@pytest.mark.parametrize("given", ["calc/ops.py", "./calc/ops.py", "ABSOLUTE"])
def test_file_shows_one_files_figure(traced, given):
    given = str(traced.root / "calc/ops.py") if given == "ABSOLUTE" else given
    done = traced.harness("history", "mod-a", "--file", given)
    assert done.exit_code == 0
    lines = done.output.splitlines()
    assert lines[0] == "mod-a, calc/ops.py: 3 finished runs"
    assert lines[1].split() == ["Date", "Commit", "Status", "Tests", "File", "Δ", "Notes"]
    assert "40.0%" in lines[2] and lines[3].count("—") >= 3 and "80.0%" not in lines[4]


def test_step_history_and_a_spec_path_name_the_module(traced, monkeypatch):
    monkeypatch.chdir(traced.root)
    done = traced.harness("history", "suites/mod-a/module.yml", "--step", "1")
    assert done.output.splitlines()[0] == "mod-a step 1: 1 finished run"
    assert "66.5%" in done.output


def test_json_has_every_run_with_its_delta(traced):
    done = traced.harness("history", "mod-a", "--json")
    data = json.loads(done.output)
    assert (data["module"], data["step"], data["file"]) == ("mod-a", None, None)
    assert [r["delta"] for r in data["runs"]] == [None, None, 30.0]
    # Written before flaky and quarantined tests were counted: unknown, not 0.
    assert data["runs"][0]["tests"] == {
        "passed": 2,
        "failed": 0,
        "skipped": 1,
        "errors": 0,
        "flaky": None,
        "quarantined": None,
    }
    assert data["runs"][2]["tests"] is None and data["runs"][2]["shards"] == 3


def test_json_with_file_keeps_only_that_file(traced):
    data = json.loads(traced.harness("history", "mod-a", "--json", "--file", "calc/ops.py").output)
    assert [r["files"] for r in data["runs"]] == [{"calc/ops.py": v} for v in (40.0, None, None)]


def test_a_module_whose_spec_is_gone_still_has_its_history(traced):
    done = traced.harness("history", "mod-b")
    assert done.exit_code == 0
    assert "90.0%" in done.output.splitlines()[2]


def test_a_module_without_runs_says_so(traced):
    traced.spec("mod-c", suites=["suites/tests/test_ops.py"])
    done = traced.harness("history", "mod-c")
    assert (done.exit_code, done.output) == (0, "mod-c: no finished runs in trace.yml\n")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope"], "Error: no module 'nope' (specs searched: suites/*/module.yml)"),
        (["mod-a", "--file", "calc/gone.py"], "Error: calc/gone.py: not a file measured in any finished run"),
        (["mod-a", "--limit", "0"], "Error: Invalid value for '--limit'"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(traced, args, message):
    done = traced.harness("history", *args)
    assert done.exit_code == 2
    assert done.output.startswith(message) and len(done.output.strip().splitlines()) <= 2


def test_broken_trace_is_one_line_and_exit_2(traced):
    (traced.root / "trace.yml").write_text("- {event: run_finished\n", encoding="utf-8")
    done = traced.harness("history", "mod-a")
    assert done.exit_code == 2
    assert done.output.startswith("Error: ") and "trace.yml: not valid YAML" in done.output
    assert len(done.output.strip().splitlines()) == 1


def test_real_runs_are_read_back(throwaway):
    """A real run and a real step run each appear once, in their own history."""
    steps = [{"name": "Box", "suites": ["suites/tests/test_box.py"], "targets": {"calc/ops.py": 10}}]
    throwaway.spec("mod-a", suites=["suites/tests/test_ops.py"], steps=steps)
    assert throwaway.harness("run", "mod-a").exit_code == 0
    assert throwaway.harness("run", "mod-a", "--step", "1").exit_code == 0
    module = json.loads(throwaway.harness("history", "mod-a", "--json").output)["runs"]
    step = json.loads(throwaway.harness("history", "mod-a", "--step", "1", "--json").output)["runs"]
    result = throwaway.result("mod-a")
    assert [(r["status"], r["overall"], r["step"]) for r in module] == [
        ("complete", result["overall"]["percent"], None)
    ]
    assert module[0]["files"] == {p: f["percent"] for p, f in result["files"].items()}
    assert [(r["step"], r["tests"]["passed"]) for r in step] == [(1, 1)]


def test_read_runs_reads_the_trace_file(tmp_path):
    (tmp_path / "trace.yml").write_text(TRACE, encoding="utf-8")
    assert history.read_runs(Project(tmp_path), "mod-a") == [FIRST, FAILED, COMBINED]


def test_read_histories_reads_each_modules_runs(tmp_path):
    (tmp_path / "trace.yml").write_text(TRACE, encoding="utf-8")
    found = history.read_histories(Project(tmp_path), ["mod-a", "mod-b", "mod-z"])
    assert found["mod-a"] == [FIRST, FAILED, COMBINED]
    assert [r.overall for r in found["mod-b"]] == [90.0] and found["mod-z"] == []


def test_an_event_about_to_be_appended_reads_as_a_run():
    event = trace.parse(yaml.safe_load(TRACE)[3])
    assert history.run_from_event(event) == dataclasses.replace(FIRST, mutation=None)


@pytest.mark.parametrize("ref", ["mod-a", "suites/mod-a/module.yml"])
@pytest.mark.parametrize("metric", [(), ("--metric", "lat")])
def test_a_step_without_runs_that_the_spec_does_not_have_is_a_usage_error(traced, monkeypatch, ref, metric):
    monkeypatch.chdir(traced.root)
    done = traced.harness("history", ref, "--step", "2", *metric)
    assert (done.exit_code, done.output) == (2, "Error: mod-a has no steps; --step 2 does not exist\n")
