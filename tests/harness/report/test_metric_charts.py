"""Trend charts of measured figures: which statistics they plot, their alt text, their files, and that a
chart drawn from the same data is not drawn again."""

import yaml

from harness.evaluate import metric_history
from harness.report import charts, metric_charts

TRACE = """\
- {at: '2026-03-01T10:00:00+00:00', event: run_finished, module: m, step: null, status: in_progress,
   metrics: {lat: {unit: ms, count: 40, p50: 20.0, p95: 61.5, mean: 22.0},
             rate: {unit: msg/s, count: 1, mean: 5100}}}
- {at: '2026-03-02T10:00:00+00:00', event: run_finished, module: m, step: null, status: failed}
- {at: '2026-03-03T10:00:00+00:00', event: run_finished, module: m, step: null, status: complete,
   metrics: {lat: {unit: ms, count: 40, p50: 18.0, p95: 44.0, mean: 19.5},
             rate: {unit: msg/s, count: 1, mean: 5230}}}
"""

CHECK = {"metric": "lat", "stat": "p95", "bounds": {"max": 50.0}, "origin": "metrics"}


def runs(name: str):
    return metric_history.metric_runs(yaml.safe_load(TRACE), "m", name)


def test_a_targeted_metric_plots_its_bound_statistics_and_bounds():
    data = metric_charts.trend_data("m", "lat", runs("lat"), [CHECK])
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


def test_without_targets_samples_show_p50_and_p95_and_single_values_their_value():
    assert metric_charts.trend_data("m", "lat", runs("lat"), [])["stats"] == ["p50", "p95"]
    assert metric_charts.trend_data("m", "rate", runs("rate"), [CHECK])["stats"] == ["mean"]


def test_charts_are_drawn_once_per_metric_and_not_again_from_the_same_data(tmp_path):
    result = {
        "module": "m",
        "step": None,
        "metrics": {"figures": {"lat": {}, "rate/s": {}}, "checks": [CHECK]},
    }
    by_name = {"lat": runs("lat"), "rate/s": runs("rate")}
    links, drawings = metric_charts.metric_charts(tmp_path, result, by_name)
    assert [link.path for link in links] == ["charts/metric-lat.svg", "charts/metric-rate_s.svg"]
    assert links[0].alt.startswith("Line chart of m's lat over 3 runs")
    charts.draw(drawings)
    assert (tmp_path / "charts" / "metric-rate_s.svg").read_bytes().startswith(b"<?xml")
    again_links, again = metric_charts.metric_charts(tmp_path, result, by_name)
    assert again_links == links and again == []


def test_nothing_without_matplotlib_or_figures(tmp_path, monkeypatch):
    result = {"module": "m", "step": None, "metrics": {"figures": {"lat": {}}, "checks": []}}
    assert metric_charts.metric_charts(tmp_path, {**result, "metrics": None}, {"lat": runs("lat")}) == (
        [],
        [],
    )
    monkeypatch.setattr(metric_charts, "available", lambda: False)
    assert metric_charts.metric_charts(tmp_path, result, {"lat": runs("lat")}) == ([], [])
