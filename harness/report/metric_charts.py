"""Trend charts of recorded figures: what each plots (plain data, with its text alternative).

One chart per metric, its own unit on the y axis (never coverage's 0-100 %): the statistics its targets
bound (a repeated metric's medians, as judged), each target's bound as a dashed line; a metric without
targets shows p50 and p95, or its mean when every run recorded a single sample.
"""

from harness.evaluate.history import Run
from harness.evaluate.metric_history import MetricRun, metric_runs
from harness.report.metrics import number, with_unit


def names(result: dict) -> list[str]:
    """The metrics a result has a chart for: every one recorded or bound by a target."""
    section = result.get("metrics") or {}
    return list(
        dict.fromkeys([*section.get("figures", {}), *(c["metric"] for c in section.get("checks", []))])
    )


def shown_stats(name: str, checks: list[dict], runs: list[MetricRun]) -> tuple[str, ...]:
    """The statistics a metric's chart plots: those its targets bound, else p50 and p95 (or mean alone)."""
    bound = tuple(dict.fromkeys(c["stat"] for c in checks if c["metric"] == name))
    if bound:
        return bound
    single = all((run.value("count") or 0) <= 1 for run in runs)
    return ("mean",) if single else ("p50", "p95")


def trend_data(result: dict, name: str, runs: list[Run], limit: int) -> dict:
    """The points of one metric's trend: the latest `limit` runs, runs without the figure marked."""
    checks = (result.get("metrics") or {}).get("checks", [])
    every = metric_runs(runs, name)
    shown = every[-limit:]
    first = len(every) - len(shown) + 1
    stats = shown_stats(name, checks, every)
    unit = next((r.unit for r in reversed(every) if r.unit), "") or ""
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
    step = (result.get("step") or {}).get("number")
    what = f"{result['module']} step {step}" if step else result["module"]
    cut = f" (last {len(shown)} of {len(every)})" if len(shown) < len(every) else ""
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
