"""Trend charts of recorded figures: which statistics they plot, their alt text, their files beside the
report (one per metric, next to coverage's), and that a chart drawn from the same data is not drawn again."""

import xml.etree.ElementTree as ET

from harness.evaluate import history
from harness.report import charts, metric_charts
from harness.spec.project import Project
from harness.store import layout, trace

TRACE = """\
- {at: '2026-03-01T10:00:00+00:00', event: run_finished, module: m, step: null, status: in_progress,
   metrics: {lat: {unit: ms, count: 40, p50: 20.0, p95: 61.5, mean: 22.0},
             rate/s: {unit: msg/s, count: 1, mean: 5100}}}
- {at: '2026-03-02T10:00:00+00:00', event: run_finished, module: m, step: null, status: failed}
- {at: '2026-03-03T10:00:00+00:00', event: run_finished, module: m, step: null, status: complete,
   metrics: {lat: {unit: ms, count: 40, p50: 18.0, p95: 44.0, mean: 19.5},
             rate/s: {unit: msg/s, count: 1, mean: 5230}}}
"""

CHECK = {"metric": "lat", "stat": "p95", "bounds": {"max": 50.0}, "origin": "metrics"}
RESULT = {"module": "m", "step": None, "metrics": {"figures": {"lat": {}, "rate/s": {}}, "checks": [CHECK]}}


def _runs(tmp_path) -> list[history.Run]:
    project = Project(tmp_path)
    layout.trace(project).write_text(TRACE, encoding="utf-8")
    return history.runs_from_events(trace.read(project), "m")


def test_a_targeted_metric_plots_its_bound_statistics_and_bounds(tmp_path):
    data = metric_charts.trend_data(RESULT, "lat", _runs(tmp_path), charts.MAX_RUNS)
    assert data["stats"] == ["p95"] and data["ylabel"] == "lat (ms)"
    assert [(p["run"], p["values"], p["missing"]) for p in data["points"]] == [
        (1, {"p95": 61.5}, False),
        (2, {"p95": None}, True),
        (3, {"p95": 44.0}, False),
    ]
    assert data["bounds"] == [{"stat": "p95", "kind": "max", "value": 50.0, "origin": "metrics"}]
    assert data["alt"] == (
        "Line chart of m's lat over 3 runs; p95 latest 44 ms, lowest 44, highest 61.5; target p95 max 50 ms;"
        " 1 run without the figure."
    )


def test_without_targets_samples_show_p50_and_p95_and_single_values_their_mean(tmp_path):
    untargeted = {**RESULT, "metrics": {**RESULT["metrics"], "checks": []}}
    assert metric_charts.trend_data(untargeted, "lat", _runs(tmp_path), 50)["stats"] == ["p50", "p95"]
    assert metric_charts.trend_data(RESULT, "rate/s", _runs(tmp_path), 50)["stats"] == ["mean"]


def test_the_latest_runs_only_and_a_steps_title(tmp_path):
    step = {**RESULT, "step": {"number": 2, "name": "s"}}
    data = metric_charts.trend_data(step, "lat", _runs(tmp_path) * 3, 4)
    assert [p["run"] for p in data["points"]] == [6, 7, 8, 9]
    assert data["title"] == "m step 2: lat by run (last 4 of 9)"


def test_each_metric_has_a_chart_beside_the_report_drawn_once_from_the_same_data(tmp_path):
    at = layout.files(Project(tmp_path), "m")
    links, drawings = charts.module_charts(at, RESULT, _runs(tmp_path))
    metric_links = [link for link in links if "metric-" in link["path"]]
    assert [link["path"] for link in metric_links] == [
        layout.metric_chart("lat"),
        layout.metric_chart("rate/s"),
    ]
    assert layout.metric_chart("lat") == "charts/metric-lat.svg"
    assert layout.metric_chart("rate/s").startswith("charts/metric-rate_s-")  # not rate_s's file
    assert metric_links[0]["alt"].startswith("Line chart of m's lat over 3 runs")
    metric_drawings = [d for d in drawings if d[0] == "metric_trend"]
    assert [path for _, _, path in metric_drawings] == [at.metric_chart("lat"), at.metric_chart("rate/s")]
    for kind, data, path in metric_drawings:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(charts.svg(kind, data))
        svg = ET.fromstring(path.read_bytes())
        assert data["title"] in "".join(svg.itertext())
    assert at.metric_charts() == sorted(at.metric_chart(n) for n in ("lat", "rate/s"))
    again_links, again = charts.module_charts(at, RESULT, _runs(tmp_path))
    assert again_links == links and [d for d in again if d[0] == "metric_trend"] == []


def test_no_metric_chart_without_runs_or_figures(tmp_path):
    at = layout.files(Project(tmp_path), "m")
    assert charts.module_charts(at, RESULT, []) == ([], [])
    links, _ = charts.module_charts(at, {**RESULT, "metrics": None}, _runs(tmp_path))
    assert [link["path"] for link in links] == [layout.TREND_CHART]
