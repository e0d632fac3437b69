"""Recorded figures through the real commands on a throwaway project: `harness run` measures them (a
repeated metric K times: the run's own repetitions, then its files run again), judges the spec's
`metrics:` (module, step, warn-only, baseline, carried), and publishes them (results.json, the report,
MAP.md, trace.yml, a trend chart); `harness check`, `history --metric`, `accept` and a module that
carries the miss forward read them back; shards combined give the serial figures."""

import json

import numpy
import pytest

from harness.report import metrics as metric_text
from harness.store import mapfile

# The figures are recorded by the fixtures plugin's own `harness_metric` (harness/plugin/metrics.py):
# the harness reads what that writer writes.
TEST_PERF = """\
import os

import pytest

from calc import ops

SLOWER = float(os.environ.get("PERF_SLOWER", "1"))


@pytest.mark.parametrize("client", range(4))
def test_connect(harness_metric, client):
    harness_metric("ws_connect_ms", [SLOWER * (10 + client * 5 + i) for i in range(10)], "ms")


def test_throughput(harness_metric):
    harness_metric("msgs_per_s", 5200.0 / SLOWER, "msg/s")


def test_refusal(harness_metric):
    harness_metric("refused_over_limit", ops.add(0, 1))
"""

# Each run of this file counts itself in a module-scoped fixture (what a load test's shared server
# would measure), and both tests record the count: every repetition runs the whole file again.
TEST_ROUNDS = """\
import json
import os
import pathlib

import pytest


@pytest.fixture(scope="module")
def round_number():
    counter = pathlib.Path(os.environ["PERF_COUNTER"])
    number = int(counter.read_text()) + 1 if counter.exists() else 1
    counter.write_text(str(number))
    return number


@pytest.mark.parametrize("part", ["a", "b"])
def test_round(round_number, record_property, part):
    record_property("harness_metric", json.dumps({"name": "round", "unit": "", "values": [round_number]}))
"""

LATENCIES = [10 + client * 5 + i for client in range(4) for i in range(10)]  # what test_connect records
P95 = float(numpy.percentile(LATENCIES, 95))
METRICS = {
    "ws_connect_ms": {"p95": {"max": 30}},
    "msgs_per_s": {"min": 5000},
    "refused_over_limit": {"equals": 1.0, "warn_only": True},
    "round": {"mean": {"max": 10}, "repeat": 3},
}
STEPS = [
    {
        "name": "Connect",
        "suites": ["suites/perf/test_perf.py"],
        "metrics": {"ws_connect_ms": {"max": {"max": 20}}},
    }
]


def _project(throwaway):
    throwaway.write("suites/perf/test_perf.py", TEST_PERF)
    throwaway.write("suites/perf/test_rounds.py", TEST_ROUNDS)
    suites = ["suites/perf/test_perf.py", "suites/perf/test_rounds.py"]
    throwaway.spec("perf", suites=suites, metrics=METRICS, steps=STEPS)
    return throwaway


@pytest.fixture(scope="module")
def ran(shared_throwaway, tmp_path_factory):
    """A run of the perf module (a gating miss and a warn-only one), then `check` and `history`."""
    counter = tmp_path_factory.mktemp("counter") / "rounds"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PERF_COUNTER", str(counter))
        project = _project(shared_throwaway)
        run = project.harness("run", "perf")
        comment = tmp_path_factory.mktemp("comment") / "summary.md"
        check = project.harness("check", "perf", "--annotations", "--comment", str(comment))
        history = project.harness("history", "perf", "--metric", "ws_connect_ms", "--stat", "p95")
        as_json = project.harness("history", "perf", "--metric", "round", "--json")
        return project, run, check, history, as_json, counter, comment


def test_a_run_judges_the_figures_and_a_gating_miss_keeps_it_in_progress(ran):
    project, run, *_ = ran
    assert run.exit_code == 1
    result = project.result("perf")
    assert result["status"] == "in_progress"
    assert result["unmet"] == ["metric:ws_connect_ms.p95", "metric:ws_connect_ms.max"]
    checks = {(c["key"], c["origin"]): c for c in result["metrics"]["checks"]}
    assert checks["metric:ws_connect_ms.p95", "metrics"]["final"] == P95
    assert checks["metric:ws_connect_ms.max", "step 1"]["final"] == max(LATENCIES)
    assert checks["metric:refused_over_limit.mean", "metrics"]["warn_only"]
    assert checks["metric:msgs_per_s.mean", "metrics"]["met"]
    assert result["metrics"]["steps"]["1"]["ws_connect_ms"]["count"] == 40
    assert "round" not in result["metrics"]["steps"]["1"]  # not among the step's own tests
    assert "Metric targets:" in run.output and "ws_connect_ms p95" in run.output


def test_a_repeated_metric_is_the_median_of_its_files_runs(ran):
    project, run, *_, counter, _ = ran
    assert "Repeating 1 test file(s) up to 2 more time(s) for round" in run.output
    assert counter.read_text() == "3"  # the file ran three times; test_perf.py once
    figure = project.result("perf")["metrics"]["figures"]["round"]
    assert (figure["mean"], figure["count"], figure["repeat"]) == (2.0, 2, 3)
    assert [(r["mean"], r["count"]) for r in figure["runs"]] == [(1.0, 2), (2.0, 2), (3.0, 2)]
    (check,) = [c for c in project.result("perf")["metrics"]["checks"] if c["metric"] == "round"]
    assert (check["runs"], check["spread"], check["met"]) == ([1.0, 2.0, 3.0], [1.0, 3.0], True)
    log = (project.root / "reports/perf/pytest.log").read_text()
    assert log.count("-m pytest suites/perf/test_rounds.py -p harness.run.plugin") == 2  # the repetitions


@pytest.mark.parametrize(
    ("repeat", "rounds"), [(3, 0), (2, 1)], ids=["as-many-repetitions", "one-repetition-short"]
)
def test_a_repeated_run_gives_the_metric_its_repetitions(throwaway, monkeypatch, tmp_path, repeat, rounds):
    """`--repeat N` runs the whole module N times: `repeat: 3` takes them first (repetition i is the
    run's repetition i), and only what K asks beyond N runs again as a round of the recording file."""
    counter = tmp_path / "rounds"
    monkeypatch.setenv("PERF_COUNTER", str(counter))
    project = _project(throwaway)
    run = project.harness("run", "perf", "--repeat", str(repeat))
    assert run.exit_code == 1, run.output  # the module's own gating miss, as in a single run
    repeating = "Repeating 1 test file(s) up to 1 more time(s) for round"
    assert (repeating in run.output) == bool(rounds)
    assert counter.read_text() == "3"  # the recording file ran three times in all
    result = project.result("perf")
    figure = result["metrics"]["figures"]["round"]
    assert [(r["mean"], r["count"]) for r in figure["runs"]] == [(1.0, 2), (2.0, 2), (3.0, 2)]
    assert (figure["mean"], figure["repeat"]) == (2.0, 3)
    assert result["stability"]["repetitions"] == repeat
    # A metric without `repeat` is the first repetition's; every repetition recorded the same figures.
    assert result["metrics"]["figures"]["ws_connect_ms"]["p95"] == P95
    log = (project.root / "reports/perf/pytest.log").read_text()
    assert log.count("-m pytest suites/perf/test_rounds.py -p harness.run.plugin") == rounds


def test_the_report_map_trace_and_chart_show_the_figures(ran):
    project, *_ = ran
    out = project.root / "reports/perf"
    report = (out / "COMPLETION_STATUS.md").read_text()
    assert "## Measured Figures" in report
    assert f"| `ws_connect_ms` | p95 | ms | — | **{metric_text.number(P95)} ms** |" in report
    assert "**2 (median of 3: 1 to 3)** |" in report
    result = project.result("perf")
    chart = {c["path"]: c for c in result["charts"]}["charts/metric-ws_connect_ms.svg"]
    assert (out / chart["path"]).read_bytes().startswith(b"<?xml")
    block = (project.root / "MAP.md").read_text().split(mapfile.BEGIN)[1].split(mapfile.END)[0]
    assert "| Metrics |" in block and "| ❌ 3 of 5 met |" in block
    (finished,) = [e for e in project.trace() if e["event"] == "run_finished" and e["step"] is None]
    assert finished["metrics"]["round"] == {
        k: result["metrics"]["figures"]["round"][k] for k in finished["metrics"]["round"]
    }
    assert finished["metrics"]["ws_connect_ms"]["p95"] == P95


def test_check_prints_each_miss_by_its_key_and_exits_1(ran):
    check = ran[2]
    assert check.exit_code == 1
    p95 = f"metric:ws_connect_ms.p95: {metric_text.number(P95)} ms, target ≤ 30 ms"
    step = "metric:ws_connect_ms.max: 34 ms, target ≤ 20 ms (step 1)"
    assert check.output.splitlines()[-5:] == [
        p95,
        step,
        "perf: In Progress",
        f"::error title=Metric below target::{p95}",
        f"::error title=Metric below target::{step}",
    ]
    summary = ran[-1].read_text()
    assert f"| `ws_connect_ms` | p95 | {metric_text.number(P95)} ms | ≤ 30 | ❌ below |" in summary


def test_a_step_run_judges_the_steps_own_targets(ran):
    project = ran[0]
    assert project.harness("run", "perf", "--step", "1").exit_code == 1
    step = json.loads((project.root / "reports/perf/steps/1/results.json").read_text())
    assert [(c["key"], c["origin"], c["final"]) for c in step["metrics"]["checks"]] == [
        ("metric:ws_connect_ms.max", "step 1", 34.0)
    ]
    assert step["unmet"] == ["metric:ws_connect_ms.max"] and step["metrics"]["steps"] == {}


def test_history_shows_one_metric_run_by_run(ran):
    _, _, _, history, as_json, *_ = ran
    assert history.exit_code == 0
    head, columns, row = history.output.splitlines()
    assert head == "perf, ws_connect_ms (ms): 1 finished run"
    assert columns.split() == ["Date", "Commit", "Status", "p95", "Δ", "Notes"]
    assert metric_text.number(P95) in row and "unmet ws_connect_ms.p95" in row
    data = json.loads(as_json.output)
    assert (data["metric"], [r["metric"]["mean"] for r in data["runs"]]) == ("round", [2.0])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--metric", "lat"], "Error: lat: not a metric of any finished run of perf (recorded: msgs_per_s, "),
        (["--metric", "round", "--file", "calc/ops.py"], "Error: --metric and --file show different figures"),
        (["--stat", "p95"], "Error: --stat is a statistic of a metric: give --metric NAME too"),
        (["--metric", "round", "--stat", "p90"], "Error: Invalid value for '--stat'"),
    ],
)
def test_history_refuses_in_one_line(ran, args, message):
    done = ran[0].harness("history", "perf", *args)
    assert done.exit_code == 2 and done.output.startswith(message)


def test_accepted_misses_carry_forward_to_a_module_that_takes_them_over(throwaway, monkeypatch, tmp_path):
    monkeypatch.setenv("PERF_COUNTER", str(tmp_path / "rounds"))
    project = _project(throwaway)
    assert project.harness("run", "perf").exit_code == 1
    accepted = project.harness("accept", "perf", "--rationale", "the load box is slow")
    assert accepted.exit_code == 0
    assert f"  metric:ws_connect_ms.p95: {metric_text.number(P95)} ms -> target ≤ 30 ms" in accepted.output
    result = project.result("perf")
    assert result["status"] == "complete_with_variance"
    items = result["metrics"]["carry_forward"]
    assert [(i["metric"], i["stat"], i["origin"]) for i in items] == [
        ("ws_connect_ms", "p95", "metrics"),
        ("ws_connect_ms", "max", "step 1"),
    ]
    (logged,) = [e for e in project.trace() if e["event"] == "carry_forward_created"]
    assert {
        "metric": "ws_connect_ms",
        "stat": "p95",
        "final": P95,
        "unit": "ms",
        "bounds": {"max": 30.0},
    } in logged["items"]
    assert (
        "Carried forward (accepted variance)"
        in (project.root / "reports/perf/COMPLETION_STATUS.md").read_text()
    )

    # A later module, twice as fast: the carried p95 is its target (and perf's figures its baseline).
    project.spec(
        "later",
        suites=["suites/perf/test_perf.py"],
        carry_forward={"from": "perf"},
        baseline={"module": "perf"},
    )
    monkeypatch.setenv("PERF_SLOWER", "0.5")
    assert project.harness("run", "later").exit_code == 0
    later = project.result("later")
    checks = {(c["key"], c["origin"]): c for c in later["metrics"]["checks"]}
    p95 = checks["metric:ws_connect_ms.p95", "carried from perf"]
    assert (p95["final"], p95["baseline"], p95["delta"], p95["met"]) == (P95 / 2, P95, -P95 / 2, True)
    assert later["status"] == "complete"


def test_shards_combined_give_the_serial_figures(throwaway, monkeypatch, tmp_path):
    monkeypatch.setenv("PERF_COUNTER", str(tmp_path / "serial"))
    project = _project(throwaway)
    assert project.harness("run", "perf").exit_code == 1
    serial = project.result("perf")["metrics"]
    monkeypatch.setenv("PERF_COUNTER", str(tmp_path / "sharded"))
    for shard in ("1/2", "2/2"):
        assert project.harness("run", "perf", "--shard", shard).exit_code == 0
    assert project.harness("combine", "perf").exit_code == 1
    combined = project.result("perf")["metrics"]
    for name in ("ws_connect_ms", "msgs_per_s", "refused_over_limit"):
        assert combined["figures"][name] == serial["figures"][name]
    assert combined["steps"] == serial["steps"]
    # Each shard ran the rounds file three times and counted its own test alone: two samples a repetition.
    rounds = combined["figures"]["round"]
    assert [(r["count"], r["tests"]) for r in rounds["runs"]] == [(2, 2)] * 3
