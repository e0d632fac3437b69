"""Trend charts of measured figures: what each plots (plain data, alt text), and its SVG beside the report.

One chart per metric, its own unit on the y axis: the statistics its targets bound (the median of a
repeated metric's repetitions, as judged), each target's bound as a dashed line; a metric without
targets shows p50 and p95, or its value when every run recorded a single sample.
"""

import re
from pathlib import Path

from harness.evaluate.metric_history import MetricRun
from harness.report.charts import MAX_RUNS, ChartLink, _drawn_already, available
from harness.report.metrics import number, with_unit

SVG = "charts/metric-{slug}.svg"


def slug(name: str) -> str:
    """A metric's name as a file name: letters, digits, `.`, `_` and `-` kept, the rest `_`."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)


def shown_stats(name: str, checks: list[dict], runs: list[MetricRun]) -> tuple[str, ...]:
    """The statistics a metric's chart plots: those its targets bound, else p50 and p95 (or mean alone)."""
    bound = tuple(dict.fromkeys(c["stat"] for c in checks if c["metric"] == name))
    if bound:
        return bound
    single = all((run.value("count") or 0) <= 1 for run in runs)
    return ("mean",) if single else ("p50", "p95")


def trend_data(module_id: str, name: str, runs: list[MetricRun], checks: list[dict], step=None) -> dict:
    """The points of one metric's trend: the latest MAX_RUNS runs, runs without the figure marked."""
    shown = runs[-MAX_RUNS:]
    first = len(runs) - len(shown) + 1
    stats = shown_stats(name, checks, runs)
    unit = next((r.unit for r in reversed(runs) if r.unit), "") or ""
    points = [
        {
            "run": first + i,
            "label": f"#{first + i}\n{(run.run.at or '')[5:10]}",
            "values": {stat: run.value(stat) for stat in stats},
            "missing": not run.stats,
        }
        for i, run in enumerate(shown)
    ]
    bounds = [
        {"stat": c["stat"], "kind": kind, "value": value, "origin": c["origin"]}
        for c in checks
        if c["metric"] == name
        for kind, value in c["bounds"].items()
    ]
    what = f"{module_id} step {step}" if step else module_id
    cut = f" (last {len(shown)} of {len(runs)})" if len(shown) < len(runs) else ""
    data = {
        "title": f"{what}: {name} by run{cut}",
        "xlabel": "run (oldest to newest)",
        "ylabel": f"{name} ({unit})" if unit else name,
        "stats": list(stats),
        "bounds": bounds,
        "points": points,
    }
    return {**data, "alt": _alt(what, name, unit, data)}


def _alt(what: str, name: str, unit: str, data: dict) -> str:
    points = data["points"]
    text = f"Line chart of {what}'s {name} over {len(points)} run{'s' if len(points) != 1 else ''}"
    for stat in data["stats"]:
        values = [p["values"][stat] for p in points if p["values"][stat] is not None]
        if values:
            text += f"; {stat} latest {with_unit(values[-1], unit)}, lowest {number(min(values))}"
            text += f", highest {number(max(values))}"
    for b in data["bounds"]:
        text += f"; target {b['stat']} {b['kind']} {with_unit(b['value'], unit)}"
    missing = sum(p["missing"] for p in points)
    return (
        text + (f"; {missing} run{'s' if missing != 1 else ''} without the figure" if missing else "") + "."
    )


def metric_charts(out_dir: Path, result: dict, runs_by_name: dict[str, list[MetricRun]]) -> tuple[list, list]:
    """The links of a result's metric trend charts (one per recorded or targeted metric with runs) and
    what `charts.draw` must draw for them: (kind, data, path), left out when drawn already from the same
    data. Nothing without matplotlib."""
    section = result.get("metrics") or {}
    if not available() or not section:
        return [], []
    names = dict.fromkeys([*section.get("figures", {}), *(c["metric"] for c in section.get("checks", []))])
    step = (result.get("step") or {}).get("number")
    links, drawings = [], []
    for name in names:
        runs = runs_by_name.get(name, [])
        if runs:
            data = trend_data(result["module"], name, runs, section.get("checks", []), step)
            path = SVG.format(slug=slug(name))
            drawings.append(("metric_trend", data, out_dir / path))
            links.append(ChartLink(path, data["alt"]))
    return links, [drawing for drawing in drawings if not _drawn_already(*drawing)]
