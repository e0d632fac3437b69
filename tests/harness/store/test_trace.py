"""trace.yml: every event kind through its writer and back through the one reader, appends under the
lock that lose nothing (killed, concurrent), hand-written text kept, broken YAML refused."""

import dataclasses
import signal
import subprocess
import sys
import textwrap

import pytest
import yaml

from harness.errors import DataError
from harness.spec.model import METRIC_STATS
from harness.spec.project import Project
from harness.store import layout, trace
from tests.harness.store.killers import KILL_AT_REPLACE, KILL_MID_WRITE, child

AT = "2026-01-01T00:00:00+00:00"
COMMON = {"at": AT, "module": "m", "commit": "c" * 40}
ONE_OF_EACH = [
    trace.RunStarted(**COMMON, run="r1", step=2, shard="1/3", combine=None, pid=41, host="h"),
    trace.RunFinished(
        **COMMON,
        run="r1",
        step=None,
        shards=3,
        target=80.0,
        status="in_progress",
        reason=None,
        tests=trace.Counts(passed=3, failed=0, skipped=1, errors=0, flaky=1, quarantined=0),
        overall=71.25,
        unmet=("calc/ops.py", "mutation:overall"),
        files={"calc/ops.py": 71.25, "calc/__init__.py": 100.0},
        metrics={
            "ws_connect_ms": trace.MetricFigure("ms", 40, 10.0, 22.0, 22.0, 32.05, 33.61, 34.0),
            "refused": trace.MetricFigure("", 1, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0),
        },
        stability=trace.StabilityFigures(
            repetitions=3,
            seeds=(3141, None, 1618),
            stable=False,
            flaky=("t/test_a.py::test_x",),
            order_dependent=("t/test_b.py::test_y[1]",),
            unstable_files={"calc/ops.py": (70.0, 71.25)},
        ),
    ),
    trace.RunFailed(**COMMON, run="r2", step=None, shard=None, combine=2, reason="no module 'x'"),
    trace.RunInterrupted(**COMMON, run="r3", step=1, shard=None, combine=None, reason=None),
    trace.ShardFinished(
        **COMMON, run="r4", step=None, shard="2/2", combine=None, reason=None, exit_codes=(0, 1)
    ),
    trace.VarianceAccepted(**COMMON, rationale="later", accepted=("calc/ops.py", "overall"), overall=71.25),
    trace.CarryForwardCreated(
        **COMMON,
        items=({"file": "calc/ops.py", "percent": 71.25, "target": {"percent": 80.0}, "missing": "9"},),
    ),
    trace.MutationFinished(**COMMON, files={"calc/ops.py": 87.5}, score=90.0),
    trace.MutationInterrupted(**COMMON, shard="1/2"),
    trace.MutationShardFinished(**COMMON, shard="1/2", mutants=12),
    trace.MutantEquivalent(
        **COMMON, mutant="0a1b2c3d4e5f", file="calc/ops.py", line=9, operator="constant", rationale="same"
    ),
    trace.PatchMeasured(
        **COMMON,
        ref="origin/main",
        base="b" * 40,
        uncommitted=False,
        lines_percent=87.5,
        branches_percent=None,
        mutation_score=60.0,
        tests=12,
        of=319,
        passed=False,
    ),
]


def _project(tmp_path) -> Project:
    return Project(tmp_path)


def test_there_is_one_event_of_each_kind_here():
    assert sorted(type(e).KIND for e in ONE_OF_EACH) == sorted(trace.KINDS)


@pytest.mark.parametrize("event", ONE_OF_EACH, ids=lambda e: e.KIND)
def test_each_kind_comes_back_from_trace_yml_as_it_was_written(tmp_path, event):
    project = _project(tmp_path)
    trace.append(project, event)
    assert trace.read(project) == [event]
    raw = yaml.safe_load(layout.trace(project).read_text())[0]
    assert list(raw)[:4] == ["at", "event", "module", "commit"] and raw["event"] == event.KIND


def test_fields_that_are_missing_or_unusable_read_as_none_and_unknown_kinds_are_skipped(tmp_path):
    project = _project(tmp_path)
    layout.trace(project).write_text(
        textwrap.dedent(
            """\
            - {event: run_finished, module: m, overall: "high", tests: [1], step: -1, files: {a.py: .nan},
               metrics: {lat: {unit: 3, p95: fast, max: 4}, odd: [1]}}
            - {event: mutation_finished, module: m, score: true}
            - {event: something_by_hand, module: m}
            - just a string
            - {event: variance_accepted, module: m, at: 2026-01-02 10:00:00}
            - event: run_finished
              module: m
              tests: {passed: 2, failed: 0, skipped: 0, errors: 0}
              stability:
                {repetitions: two, seeds: [1, x], stable: 1, flaky: oops,
                 unstable_files: {a.py: [1], b.py: [2, high]}}
            """
        )
    )
    finished, mutation, accepted, older = trace.read(project)
    assert (finished.overall, finished.tests, finished.step, finished.files) == (
        None,
        None,
        None,
        {"a.py": None},
    )
    assert finished.metrics == {"lat": trace.MetricFigure(max=4.0)}
    assert mutation.score is None and accepted.accepted == () and accepted.at == "2026-01-02T10:00:00"
    # Written before flaky and quarantined tests were counted; stability figures a hand made unusable.
    assert older.tests == trace.Counts(passed=2, failed=0, skipped=0, errors=0, flaky=None, quarantined=None)
    assert older.stability == trace.StabilityFigures(seeds=(1, None), unstable_files={"b.py": (2.0, None)})


@pytest.mark.parametrize("killer", [KILL_AT_REPLACE, KILL_MID_WRITE], ids=["at-replace", "mid-write"])
def test_killed_trace_append_leaves_earlier_events(tmp_path, killer):
    project = _project(tmp_path)
    trace.append(project, *ONE_OF_EACH[:2])
    before = layout.trace(project).read_bytes()
    script = killer + "\n    trace.append(Project(Path(sys.argv[1])), trace.RunStarted(module='never'))\n"
    done = child(script, str(tmp_path))
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert layout.trace(project).read_bytes() == before
    trace.append(project, ONE_OF_EACH[2])  # the lock was released by the kill
    assert trace.read(project) == ONE_OF_EACH[:3]


def test_concurrent_appends_lose_no_event(tmp_path):
    script = """
        import sys
        from pathlib import Path
        from harness.spec.project import Project
        from harness.store import trace
        for i in range(10):
            trace.append(Project(Path(sys.argv[1])), trace.RunStarted(module="m", run=sys.argv[2], pid=i))
    """
    procs = [
        subprocess.Popen([sys.executable, "-c", textwrap.dedent(script), str(tmp_path), f"w{w}"])
        for w in range(4)
    ]
    assert [p.wait(timeout=60) for p in procs] == [0] * 4
    events = trace.read(_project(tmp_path))
    assert sorted((e.run, e.pid) for e in events) == [(f"w{w}", i) for w in range(4) for i in range(10)]
    for w in range(4):  # each writer's events stay in its own order
        assert [e.pid for e in events if e.run == f"w{w}"] == list(range(10))


def test_append_keeps_existing_text_and_refuses_broken_yaml(tmp_path):
    project = _project(tmp_path)
    path = layout.trace(project)
    path.write_text("# kept comment\n- {event: manual, module: m}")
    trace.append(project, ONE_OF_EACH[0])
    assert path.read_text().startswith("# kept comment\n- {event: manual, module: m}\n- at:")
    path.write_text("- [unclosed\n")
    with pytest.raises(DataError, match=r"trace\.yml: not valid YAML at line 2: .*; fix or move it$") as err:
        trace.append(project, ONE_OF_EACH[0])
    assert "\n" not in str(err.value)  # one line, as every exit-2 message
    assert path.read_text() == "- [unclosed\n"


def test_a_metric_figures_statistics_are_the_specs_in_order():
    fields = [f.name for f in dataclasses.fields(trace.MetricFigure)]
    assert fields == ["unit", *METRIC_STATS]


def test_a_results_figures_reach_its_run_finished_event_without_their_test_counts():
    figure = {"unit": "ms", "count": 2, "min": 1.0, "mean": 1.5, "p50": 1.5, "p95": 1.95, "p99": 1.99}
    result = {
        "module": "m", "step": None, "overall": {"target": None, "percent": 50.0}, "status": "complete",
        "reason": None, "tests": {"passed": 1, "failed": 0, "skipped": 0, "errors": 0}, "unmet": [],
        "files": {}, "metrics": {"figures": {"lat": {**figure, "max": 2.0, "tests": 1, "repeat": 1}}},
    }  # fmt: skip
    event = trace.RunFinished.of_result(result, "r1", None)
    assert event.metrics == {"lat": trace.MetricFigure("ms", 2, 1.0, 1.5, 1.5, 1.95, 1.99, 2.0)}
    assert trace.RunFinished.of_result({**result, "metrics": None}, "r1", None).metrics == {}


def test_events_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        ONE_OF_EACH[0].run = "other"


def test_the_c_dumper_writes_what_pyyaml_would(tmp_path):
    """Appends use libyaml's dumper when there is one, for its speed; the text must be PyYAML's own."""
    entries = [event.to_dict() for event in ONE_OF_EACH]
    options = {"sort_keys": False, "allow_unicode": True, "default_flow_style": False}
    assert yaml.dump(entries, Dumper=trace._SAFE_DUMPER, **options) == yaml.safe_dump(entries, **options)


def test_a_trace_read_again_is_the_file_as_it_is_now(tmp_path):
    project = _project(tmp_path)
    trace.append(project, ONE_OF_EACH[0])
    first = trace.read(project)
    first.append("changing the list handed out changes nothing kept")
    assert trace.read(project) == [ONE_OF_EACH[0]]
    layout.trace(project).write_text(
        layout.trace(project).read_text() + "- {event: run_started, module: x}\n"
    )
    assert [e.module for e in trace.read(project)] == ["m", "x"]  # edited by hand: read anew
