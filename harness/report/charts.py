"""Charts of coverage and recorded figures: what each one plots (plain data, with its text alternative)
and its SVG bytes.

Nothing here writes a file: `module_charts` says what to draw where, `svg` draws one chart, and the
publisher stores the bytes.
"""

import hashlib
import importlib
import json
from pathlib import Path

from harness.evaluate.history import Run
from harness.report import metric_charts
from harness.store import layout

MAX_RUNS = 50  # a trend shows the latest runs; older ones stay in `harness history`
MAX_FILES = 30  # bars for the files furthest from their targets; beyond, a histogram shows them all
MAP_RUNS = 20
MAP_ALT_MODULES = 12
BINS = tuple(range(0, 101, 10))
UNAVAILABLE = "Charts are not drawn: matplotlib is not installed (`pip install 'harness[charts]'`)."


def _plot():
    """The drawing module, or None when matplotlib (the `charts` extra) is not installed."""
    try:
        return importlib.import_module("harness.report.plot")
    except ImportError:
        return None


def available() -> bool:
    return _plot() is not None


def module_charts(at: layout.ModuleFiles, result: dict, runs: list[Run]) -> tuple[list[dict], list[tuple]]:
    """The module's (or step's) charts as the report links them (`{"path", "alt"}`, relative to the
    report), and what must be drawn for them: `(kind, data, path)`, for `svg`.

    A result without figures (a failed run) has no files chart. Each metric the result recorded or
    bounds has a trend chart of its own (`metric_charts`). A chart already drawn from the same data
    (by the same drawing code and matplotlib) is not drawn again. Without matplotlib there is nothing.
    """
    if _plot() is None:
        return [], []
    links, charts = [], []
    if runs:
        step = (result.get("step") or {}).get("number")
        data = trend_data(result["module"], runs, (result.get("overall") or {}).get("target"), step)
        charts.append(("trend", data, at.trend_chart))
        links.append({"path": layout.TREND_CHART, "alt": data["alt"]})
    if result.get("files"):
        data = files_data(result)
        charts.append(("files", data, at.files_chart))
        links.append({"path": layout.FILES_CHART, "alt": data["alt"]})
    for name in metric_charts.names(result) if runs else ():
        data = metric_charts.trend_data(result, name, runs, MAX_RUNS)
        charts.append(("metric_trend", data, at.metric_chart(name)))
        links.append({"path": layout.metric_chart(name), "alt": data["alt"]})
    return links, [chart for chart in charts if not _drawn_already(*chart)]


def svg(kind: str, data: dict) -> bytes:
    """One chart of `module_charts` drawn with matplotlib, stamped with what it was drawn from."""
    drawn = getattr(_plot(), kind)(data)
    declaration, _, rest = drawn.partition(b"\n")
    return b"\n".join([declaration, _stamp(kind, data), rest])


def _stamp(kind: str, data: dict) -> bytes:
    """An XML comment naming what a chart was drawn from: its data, the drawing code, matplotlib."""
    import matplotlib  # imported already: only called where `_plot()` gave the drawing module

    digest = hashlib.sha256(json.dumps([kind, data], sort_keys=True).encode("utf-8"))
    digest.update(Path(_plot().__file__).read_bytes())
    digest.update(matplotlib.__version__.encode("utf-8"))
    return f"<!-- harness chart {digest.hexdigest()[:32]} -->".encode()


def _drawn_already(kind: str, data: dict, path: Path) -> bool:
    try:
        with path.open("rb") as drawn:
            head = drawn.read(512)
    except OSError:
        return False
    return _stamp(kind, data) in head


def map_chart(rows: list[dict], histories: dict[str, list[Run]]) -> tuple[bytes, str] | None:
    """MAP.md's chart of every module's overall coverage over its latest runs, and its text alternative;
    None without matplotlib or without rows."""
    plot = _plot()
    if not rows or plot is None:
        return None
    data = map_data(rows, histories)
    return plot.map_trend(data), data["alt"]


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _pct(value: float | None) -> str:
    return "no figure" if value is None else f"{value:.1f}%"


def trend_data(module_id: str, runs: list[Run], target: float | None, step: int | None = None) -> dict:
    """The points of the trend chart: the latest MAX_RUNS runs, failed ones marked, the target line."""
    shown = runs[-MAX_RUNS:]
    first = len(runs) - len(shown) + 1
    points = [
        {
            "run": first + i,
            "label": f"#{first + i}\n{(run.at or '')[5:10]}",
            "overall": _round(run.overall),
            "mutation": _round(run.mutation),
            "failed": run.status == "failed" or run.overall is None,
        }
        for i, run in enumerate(shown)
    ]
    what = f"{module_id} step {step}" if step else module_id
    cut = f" (last {len(shown)} of {len(runs)})" if len(shown) < len(runs) else ""
    data = {
        "title": f"{what}: overall coverage by run{cut}",
        "xlabel": "run (oldest to newest)",
        "ylabel": "coverage (%)",
        "target": target,
        "mutation": any(p["mutation"] is not None for p in points),
        "points": points,
    }
    return {**data, "alt": _trend_alt(what, points, target)}


def _trend_alt(what: str, points: list[dict], target: float | None) -> str:
    figures = [p["overall"] for p in points if p["overall"] is not None]
    text = f"Line chart of {what}'s overall coverage over {len(points)} run{'s' if len(points) != 1 else ''}"
    if figures:
        text += f": latest {_pct(figures[-1])}, lowest {_pct(min(figures))}, highest {_pct(max(figures))}"
    text += f"; target {target:g}%" if target is not None else "; no overall target"
    failed, blank = sum(p["failed"] for p in points), len(points) - len(figures)
    if failed:
        text += f"; {failed} failed run{'s' if failed != 1 else ''}, {blank} without a figure"
    scores = [p["mutation"] for p in points if p["mutation"] is not None]
    return text + (f"; latest mutation score {_pct(scores[-1])}" if scores else "") + "."


def _file_order(item: tuple[str, dict]) -> tuple:
    """Under target first, furthest under first; then met files closest to their target; untargeted last."""
    path, entry = item
    figure, target = entry.get("percent") or 0.0, entry.get("target")
    margin = figure - target if target is not None else figure
    rank = {False: 0, True: 1}.get(entry.get("met"), 2)
    return (rank, margin, path)


def _label(path: str, width: int = 48) -> str:
    return path if len(path) <= width else "…" + path[-(width - 1) :]


def files_data(result: dict, limit: int = MAX_FILES) -> dict:
    """The bars of the files chart and, past `limit` files, the histogram of every file's figure."""
    ordered = sorted(result["files"].items(), key=_file_order)
    status = {False: "under", True: "met"}
    bars = [
        {
            "file": path,
            "label": _label(path),
            "percent": _round(entry.get("percent")),
            "target": entry.get("target"),
            "status": status.get(entry.get("met"), "none"),
        }
        for path, entry in ordered[:limit]
    ]
    counts = {s: sum(1 for _, e in ordered if status.get(e.get("met"), "none") == s) for s in status.values()}
    total, shown = len(ordered), len(bars)
    data = {
        "title": f"{result['module']}: {total:,} file{'s' if total != 1 else ''} against their targets",
        "subtitle": f"the {shown} furthest from target" if shown < total else None,
        "xlabel": "coverage (%)",
        "ylabel": "file",
        "total": total,
        "under": counts["under"],
        "met": counts["met"],
        "bars": bars,
        "histogram": _histogram(ordered, status) if shown < total else None,
    }
    return {**data, "alt": _files_alt(data)}


def _histogram(ordered: list[tuple[str, dict]], status: dict) -> dict:
    hist = {"bins": list(BINS), "under": [0] * 10, "met": [0] * 10, "none": [0] * 10}
    for _, entry in ordered:
        slot = min(int((entry.get("percent") or 0.0) // 10), 9)
        hist[status.get(entry.get("met"), "none")][slot] += 1
    return hist


def _files_alt(data: dict) -> str:
    total, under = data["total"], data["under"]
    text = f"Bar chart of {total:,} file{'s' if total != 1 else ''} against their targets"
    text += f": {under:,} under target"
    text += f", {data['met']:,} meeting it, {total - under - data['met']:,} without a target"
    worst = [b for b in data["bars"] if b["status"] == "under"][:3]
    if worst:
        text += "; furthest under: " + ", ".join(
            f"{b['file']} {_pct(b['percent'])}" + (f" < {b['target']:g}%" if b["target"] is not None else "")
            for b in worst
        )
    shown = len(data["bars"])
    if data["histogram"]:
        text += f"; bars for the {shown} furthest from target, a histogram of all {total:,}"
    return text + "."


def map_data(rows: list[dict], histories: dict[str, list[Run]]) -> dict:
    """One line per MAP.md row: the module's latest MAP_RUNS overall figures, ending at x = 0."""
    modules = []
    for row in rows:
        runs = histories.get(row["module"], [])[-MAP_RUNS:]
        points = [{"x": i - len(runs) + 1, "overall": _round(r.overall)} for i, r in enumerate(runs)]
        modules.append({"module": row["module"], "latest": _round(row.get("percent")), "points": points})
    data = {
        "title": f"Overall coverage of every module (latest {MAP_RUNS} runs each)",
        "xlabel": "runs before the latest",
        "ylabel": "coverage (%)",
        "modules": modules,
    }
    listed = [f"{m['module']} {_pct(m['latest'])} ({len(m['points'])} runs)" for m in modules]
    more = len(listed) - MAP_ALT_MODULES
    alt = "Line chart, one line per module, of overall coverage by run: "
    alt += ", ".join(listed[:MAP_ALT_MODULES])
    return {**data, "alt": alt + (f" and {more} more" if more > 0 else "") + "."}
