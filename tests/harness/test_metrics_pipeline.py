"""Measured figures end to end on a throwaway project, through every real piece up to publishing (which
the run wires): pytest records figures, the spec's `metrics:` judge them, a missed p95 gates and a
warn-only one does not, `harness check`'s lines name the figure, and the figures written into trace.yml
come back in `harness history --metric` and the trend chart."""

import numpy
import pytest

from harness.evaluate import metric_history
from harness.evaluate import metrics as evaluate
from harness.evaluate.targets import status
from harness.measure.metrics import measure
from harness.report import charts, metric_charts
from harness.report import metrics as report
from harness.run.session import RunOptions, run_session
from harness.spec.catalog import find_spec
from harness.spec.project import load_project
from harness.store import disk, shards, trace

TEST_PERF = """\
import json
import os

import pytest

SLOWER = float(os.environ.get("PERF_SLOWER", "1"))


@pytest.fixture
def harness_metric(request):
    # What the harness_metric fixture does (harness/plugin/metrics.py).
    def record(name, value, unit=""):
        values = value if isinstance(value, list) else [value]
        figure = json.dumps({"name": name, "unit": unit, "values": [float(v) for v in values]})
        request.node.user_properties.append(("harness_metric", figure))

    return record


@pytest.mark.parametrize("client", range(4))
def test_connect(harness_metric, client):
    harness_metric("ws_connect_ms", [SLOWER * (10 + client * 5 + i) for i in range(10)], "ms")


def test_throughput(harness_metric):
    harness_metric("msgs_per_s", 5200.0 / SLOWER, "msg/s")


def test_refusal(harness_metric):
    harness_metric("refused_over_limit", 1)
"""

SUITE = "suites/perf/test_perf.py"
LATENCIES = [10 + client * 5 + i for client in range(4) for i in range(10)]  # what test_connect records
P95 = float(numpy.percentile(LATENCIES, 95))
TESTS_OK = {"passed": 6, "failed": 0, "skipped": 0, "errors": 0}


def _spec(project, warn_only: bool):
    metrics = {
        "ws_connect_ms": {"p95": {"max": 30}, "warn_only": warn_only},
        "msgs_per_s": {"min": 5000},
        "refused_over_limit": {"equals": 1.0},
    }
    project.spec("perf", suites=[SUITE], metrics=metrics)
    return find_spec(load_project(project.root), "perf")


def _measure(project, tmp_path):
    session = run_session(project.root, [find_spec(load_project(project.root), "perf").suites[0]],
                          ("calc",), tmp_path, RunOptions(), lambda line: None)  # fmt: skip
    assert session.exit_codes == (0,)
    return measure(shards.processes_of(session))


@pytest.fixture
def perf(throwaway):
    throwaway.write(SUITE, TEST_PERF)
    return throwaway


@pytest.fixture(scope="module")
def shared_perf(shared_throwaway, tmp_path_factory):
    """The perf suite's figures from one real session, and its project."""
    shared_throwaway.write(SUITE, TEST_PERF)
    _spec(shared_throwaway, warn_only=False)
    return shared_throwaway, _measure(shared_throwaway, tmp_path_factory.mktemp("work"))


@pytest.mark.parametrize("warn_only", [False, True])
def test_a_missed_p95_gates_and_a_warn_only_one_does_not(shared_perf, warn_only):
    project, measured = shared_perf
    spec = _spec(project, warn_only)
    section = evaluate.assess(spec.metrics, [measured])
    p95, rate, refused = section["checks"]
    assert (p95["final"], p95["met"]) == (P95, False)
    assert rate["met"] and refused["met"]
    result = {"module": "perf", "metrics": section, "acceptance": None}
    line = f"metric:ws_connect_ms.p95: {report.number(P95)} ms, target ≤ 30 ms"
    if warn_only:
        assert section["unmet"] == [] and status(None, TESTS_OK, section["unmet"], None) == "complete"
        assert report.check_lines(result) == [f"{line} (warn only)"]
        assert report.map_cell(result) == "⚠️ 2 of 3 met"
    else:
        assert section["unmet"] == ["metric:ws_connect_ms.p95"]
        assert status(None, TESTS_OK, section["unmet"], None) == "in_progress"
        assert report.check_lines(result) == [line]
        assert report.map_cell(result) == "❌ 2 of 3 met"


def test_history_and_the_trend_chart_carry_the_figure(perf, tmp_path, monkeypatch):
    spec = _spec(perf, warn_only=False)
    project = load_project(perf.root)
    for number, slower in enumerate(("1", "0.5"), 1):  # the second run halves every latency
        monkeypatch.setenv("PERF_SLOWER", slower)
        section = evaluate.assess(spec.metrics, [_measure(perf, tmp_path / str(number))])
        fields = metric_history.event_fields(section)
        state = status(None, TESTS_OK, section["unmet"], None)
        ev = trace.event(project, "perf", "run_finished", step=None, status=state, unmet=section["unmet"])
        disk.append_events(project.trace_path, project.lock_path, [{**ev, **fields}])

    shown = metric_history.select(project, "perf", "ws_connect_ms", stat="p95")
    (first, _), (second, change) = shown.rows
    assert (first.value("p95"), second.value("p95"), change) == (P95, P95 / 2, pytest.approx(-P95 / 2))
    assert first.unmet == ("metric:ws_connect_ms.p95",) and second.unmet == ()
    head, columns, one, two = report.history_table(shown, "trace.yml").splitlines()
    assert head == "perf, ws_connect_ms (ms): 2 finished runs"
    assert columns.split() == ["Date", "Commit", "Status", "p95", "Δ", "Notes"]
    assert one.split()[-5:] == ["Progress", report.number(P95), "—", "unmet", "ws_connect_ms.p95"]
    assert two.split()[-2:] == [report.number(P95 / 2), report.signed(-P95 / 2)]

    runs = {name: metric_history.metric_runs(disk.read_trace(project.trace_path), "perf", name) for name in
            ("ws_connect_ms", "msgs_per_s", "refused_over_limit")}  # fmt: skip
    result = {"module": "perf", "step": None, "metrics": section}
    links, drawings = metric_charts.metric_charts(tmp_path / "out", result, runs)
    data = {d[2].name: d[1] for d in drawings}["metric-ws_connect_ms.svg"]
    assert [p["values"] for p in data["points"]] == [{"p95": P95}, {"p95": P95 / 2}]
    assert data["bounds"] == [{"stat": "p95", "kind": "max", "value": 30.0, "origin": "metrics"}]
    charts.draw([d for d in drawings if d[2].name == "metric-ws_connect_ms.svg"])
    svg = (tmp_path / "out" / "charts" / "metric-ws_connect_ms.svg").read_text(encoding="utf-8")
    assert "perf: ws_connect_ms by run" in svg and "p95 max 30" in svg
    assert [link.path for link in links] == [f"charts/metric-{n}.svg" for n in sorted(runs)]
