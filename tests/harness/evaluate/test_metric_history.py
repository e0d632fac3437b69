"""One metric's figures read back from trace.yml: other modules, steps, broken and hand-edited events,
and what `harness history --metric` refuses."""

import json

import pytest

from harness.errors import HarnessError
from harness.evaluate import history, metric_history
from harness.evaluate import metrics as evaluate
from harness.measure.metrics import Measurement, Recording, aggregate
from harness.spec.project import Project, load_project
from harness.store import trace

TRACE = """\
- at: '2026-02-01T10:00:00+00:00'
  event: run_finished
  module: mod-a
  step: null
  status: in_progress
  unmet: ['metric:lat.p95', 'calc/ops.py', 'metric:latency_total.max']
  metrics:
    lat: {unit: ms, count: 40, min: 1.0, mean: 20.0, p50: 19.0, p95: 61.5, p99: 70.0, max: 71.0}
- {at: '2026-02-01T10:30:00+00:00', event: run_finished, module: mod-b, step: null, status: complete,
   metrics: {lat: {unit: ms, p95: 1.0}}}
- {at: '2026-02-01T11:00:00+00:00', event: run_finished, module: mod-a, step: 1, status: complete,
   metrics: {lat: {unit: ms, p95: 2.0}}}
- {at: '2026-02-01T12:00:00+00:00', event: run_finished, module: mod-a, step: null, status: failed,
   reason: 1 test failed or errored}
- at: '2026-02-01T13:00:00+00:00'
  event: run_finished
  module: mod-a
  step: null
  status: complete
  unmet: []
  metrics:
    lat: {unit: 7, count: lots, p95: 48, p99: .nan, max: true}
    rate: {unit: msg/s, mean: 5100.0}
    broken: [1, 2]
- {at: '2026-02-01T14:00:00+00:00', event: run_started, module: mod-a}
- just a line someone typed
"""


@pytest.fixture
def project(throwaway):
    throwaway.spec("mod-a", suites=["suites/tests/test_ops.py"])
    throwaway.write("trace.yml", TRACE)
    return load_project(throwaway.root)


def _runs(project, name, step=None):
    return metric_history.metric_runs(history.read_runs(project, "mod-a", step), name)


def test_runs_of_a_module_with_one_metrics_figures(project):
    runs = _runs(project, "lat")
    assert [r.run.status for r in runs] == ["in_progress", "failed", "complete"]
    first, failed, last = runs
    assert (first.unit, first.value("p95"), first.value("count"), first.unmet) == (
        "ms",
        61.5,
        40.0,
        ("metric:lat.p95",),
    )
    assert failed.stats == {} and failed.run.reason == "1 test failed or errored"
    # What a hand edit broke is None; what is still a number stays.
    assert last.unit is None
    assert (last.value("p95"), last.value("count"), last.value("p99"), last.value("max")) == (
        48.0,
        None,
        None,
        None,
    )


def test_a_steps_runs_are_its_own(project):
    runs = _runs(project, "lat", step=1)
    assert [r.value("p95") for r in runs] == [2.0]


def test_select_shows_one_statistic_with_its_change(project):
    shown = metric_history.select(project, "mod-a", "lat", stat="p95")
    assert [(run.value("p95"), change) for run, change in shown.rows] == [
        (61.5, None),
        (None, None),
        (48.0, -13.5),
    ]
    assert shown.stats == ("p95",) and shown.total == 3
    last = metric_history.select(project, "mod-a", "lat", limit=1)
    assert len(last.rows) == 1 and last.total == 3 and last.stats == metric_history.METRIC_STATS


def test_json_text(project):
    data = json.loads(metric_history.json_text(metric_history.select(project, "mod-a", "rate", stat="mean")))
    assert (data["module"], data["metric"], data["stats"]) == ("mod-a", "rate", ["mean"])
    assert [(r["metric"].get("mean"), r["unit"], r["delta"], r["status"]) for r in data["runs"]] == [
        (None, None, None, "in_progress"),
        (None, None, None, "failed"),
        (5100.0, "msg/s", None, "complete"),
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("mod-a", "latency"),
            "latency: not a metric of any finished run of mod-a (recorded: lat, rate)",
        ),
        (
            ("mod-a", "lat", "p90"),
            "--stat p90: not a statistic (one of count, min, mean, p50, p95, p99, max)",
        ),
        (("mod-zzz", "lat"), "no module 'mod-zzz'"),
    ],
)
def test_what_history_refuses(project, args, message):
    with pytest.raises(HarnessError) as caught:
        metric_history.select(project, *args)
    assert message in str(caught.value)


def test_a_judged_figure_comes_back_from_the_run_finished_event_of_its_result(tmp_path):
    figures = aggregate([Recording("t.py::t", "lat", "ms", (1.0, 2.0, 4.0))])
    section = evaluate.assess([], [Measurement(figures, {})])
    result = {
        "module": "m", "step": None, "overall": {"target": None, "percent": 50.0}, "status": "complete",
        "reason": None, "tests": {"passed": 1, "failed": 0, "skipped": 0, "errors": 0}, "unmet": [],
        "files": {}, "metrics": section,
    }  # fmt: skip
    project = Project(tmp_path)
    trace.append(project, trace.RunFinished.of_result(result, "r1", None))
    (back,) = metric_history.metric_runs(history.read_runs(project, "m"), "lat")
    assert back.unit == "ms"
    assert back.stats == {k: v for k, v in figures["lat"].as_dict().items() if k not in ("unit", "tests")}


def test_a_runs_unmet_keys_are_the_metrics_own_even_when_names_hold_dots():
    run = history.Run(None, None, None, None, "in_progress", None, None, None, None,
                      unmet=("metric:a.b.p95", "metric:a.p95", "calc/a.py"))  # fmt: skip
    assert metric_history.metric_runs([run], "a")[0].unmet == ("metric:a.p95",)
    assert metric_history.metric_runs([run], "a.b")[0].unmet == ("metric:a.b.p95",)
