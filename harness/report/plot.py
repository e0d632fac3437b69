"""Drawing the charts with matplotlib: chart data (`harness.report.charts`) in, reproducible SVG bytes out."""

import io
import math

import matplotlib.style
from cycler import cycler
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

# Reset to matplotlib's defaults first, so a user's matplotlibrc cannot change the bytes.
STYLE = {
    "svg.hashsalt": "harness",  # clip-path ids are hashes salted at random unless the salt is fixed
    "svg.fonttype": "none",  # text stays text: smaller files, selectable, no embedded glyph outlines
    "font.family": "DejaVu Sans",  # bundled with matplotlib: the same text metrics on every machine
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
}
METADATA = {"Date": None, "Creator": None}  # no timestamp, no version string: same data, same bytes
COLORS = {
    "under": "#d62728",
    "met": "#2ca02c",
    "none": "#8c8c8c",
    "overall": "#1f77b4",
    "mutation": "#9467bd",
}
HATCH = {"under": "//", "met": "", "none": ""}
MAX_TICK_LABELS = 12


def _svg(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="svg", metadata=METADATA, bbox_inches="tight")
    return buf.getvalue()


def _nan(value: float | None) -> float:
    return math.nan if value is None else value


def _labels(ax, data: dict) -> None:
    ax.set_title(data["title"], loc="left")
    ax.set_xlabel(data["xlabel"])
    ax.set_ylabel(data["ylabel"])


@matplotlib.style.context(STYLE, after_reset=True)
def trend(data: dict) -> bytes:
    """Overall coverage per run, mutation score where measured, failed runs shaded, the target dashed."""
    fig = Figure(figsize=(7, 3.2))
    ax = fig.subplots()
    points = data["points"]
    xs = [p["run"] for p in points]
    ax.plot(xs, [_nan(p["overall"]) for p in points], marker="o", color=COLORS["overall"], label="coverage")
    if data["mutation"]:
        scores = [_nan(p["mutation"]) for p in points]
        ax.plot(xs, scores, marker="s", linestyle="--", color=COLORS["mutation"], label="mutation score")
    _failed(ax, points)
    if data["target"] is not None:
        ax.axhline(data["target"], color="#555555", linestyle=":", label=f"target {data['target']:g}%")
    values = [v for p in points for v in (p["overall"], p["mutation"]) if v is not None]
    values += [data["target"]] if data["target"] is not None else []
    ax.set_ylim(max(0, min(values, default=0) - 5), min(100, max(values, default=100) + 5) + 0.5)
    return _by_run(fig, ax, data, points)


def _by_run(fig, ax, data: dict, points: list[dict]) -> bytes:
    """What every chart of runs ends with: a tick per run (or integer ticks when there are too many),
    the grid, the titles and the legend beside the axes; the SVG bytes."""
    xs = [p["run"] for p in points]
    if len(points) <= MAX_TICK_LABELS:
        ax.set_xticks(xs, [p["label"] for p in points])
    else:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlim(xs[0] - 0.6, xs[-1] + 0.6)
    ax.grid(axis="y", alpha=0.3)
    _labels(ax, data)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    return _svg(fig)


def _failed(ax, points: list[dict]) -> None:
    """A failed run with a figure (tests failed) gets a red cross; one without (a crash) a red band."""
    measured = [(p["run"], p["overall"]) for p in points if p["failed"] and p["overall"] is not None]
    if measured:
        xs, ys = zip(*measured, strict=True)
        ax.scatter(xs, ys, marker="X", s=60, color=COLORS["under"], zorder=3, label="failed run")
    for i, x in enumerate(p["run"] for p in points if p["overall"] is None):
        label = "failed, no figure" if i == 0 else None
        ax.axvspan(x - 0.4, x + 0.4, color=COLORS["under"], alpha=0.15, label=label)


@matplotlib.style.context(STYLE, after_reset=True)
def files(data: dict) -> bytes:
    """A bar per file (under target hatched red, target as a tick), plus a histogram of every file if cut."""
    bars, hist = data["bars"], data["histogram"]
    height = max(2.4, 0.22 * len(bars) + 1.4)
    fig = Figure(figsize=(10 if hist else 7, height), layout="constrained")
    axes = fig.subplots(1, 2, width_ratios=[3, 2]) if hist else [fig.subplots()]
    ax = axes[0]
    ys = range(len(bars))
    for y, bar in zip(ys, bars, strict=True):
        ax.barh(y, _nan(bar["percent"]), color=COLORS[bar["status"]], hatch=HATCH[bar["status"]], alpha=0.85)
        text = "no figure" if bar["percent"] is None else f"{bar['percent']:.1f}%"
        ax.text((bar["percent"] or 0) + 1, y, text, va="center", fontsize=7)
    marks = [(bar["target"], y) for y, bar in zip(ys, bars, strict=True) if bar["target"] is not None]
    if marks:
        ax.scatter(*zip(*marks, strict=True), marker="|", s=160, color="black", zorder=3)
    ax.set_yticks(list(ys), [bar["label"] for bar in bars])
    for tick, bar in zip(ax.get_yticklabels(), bars, strict=True):
        tick.set_color(COLORS["under"] if bar["status"] == "under" else "black")
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.grid(axis="x", alpha=0.3)
    _labels(ax, data)
    fig.legend(handles=_file_legend(), loc="outside lower center", ncols=4, fontsize=8)
    if hist:
        fig.suptitle(data["title"], x=0.02, horizontalalignment="left")
        ax.set_title(data["subtitle"], loc="left")
        _histogram(axes[1], hist)
    return _svg(fig)


def _file_legend() -> list:
    return [
        Patch(facecolor=COLORS["under"], hatch=HATCH["under"], label="under target"),
        Patch(facecolor=COLORS["met"], label="meets target"),
        Patch(facecolor=COLORS["none"], label="no target"),
        Line2D([], [], marker="|", linestyle="", color="black", markersize=10, label="target"),
    ]


def _histogram(ax, hist: dict) -> None:
    centers = [b + 5 for b in hist["bins"][:-1]]
    bottom = [0] * len(centers)
    for status in ("under", "met", "none"):
        counts = hist[status]
        ax.bar(centers, counts, width=9, bottom=bottom, color=COLORS[status], hatch=HATCH[status], alpha=0.85)
        bottom = [b + c for b, c in zip(bottom, counts, strict=True)]
    ax.set_xlim(0, 100)
    ax.set_title("every file by coverage", loc="left")
    ax.set_xlabel("coverage (%)")
    ax.set_ylabel("files")


@matplotlib.style.context(STYLE, after_reset=True)
def map_trend(data: dict) -> bytes:
    """One line per module over its latest runs, aligned on the latest run at x = 0."""
    fig = Figure(figsize=(7, 3.2))
    ax = fig.subplots()
    ax.set_prop_cycle(cycler(linestyle=["-", "--", ":"]) * cycler(color=matplotlib.colormaps["tab10"].colors))
    for module in data["modules"]:
        points = module["points"]
        xs, ys = [p["x"] for p in points], [_nan(p["overall"]) for p in points]
        ax.plot(xs, ys, marker="o", markersize=3, label=module["module"])
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylim(0, 100.5)
    ax.grid(axis="y", alpha=0.3)
    _labels(ax, data)
    count = len(data["modules"])
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8, ncols=1 + count // 16)
    return _svg(fig)


STAT_COLORS = {"count": "#7f7f7f", "min": "#17becf", "mean": "#1f77b4", "p50": "#2ca02c", "p95": "#ff7f0e"}
STAT_COLORS |= {"p99": "#d62728", "max": "#9467bd"}
BOUND_STYLES = {"max": (0, (4, 2)), "min": (0, (1, 2)), "equals": (0, (6, 2, 1, 2))}


@matplotlib.style.context(STYLE, after_reset=True)
def metric_trend(data: dict) -> bytes:
    """A measured figure by run (`metric_charts.trend_data`): a line per statistic in the figure's unit,
    each target's bound dashed in its statistic's colour, runs without the figure shaded."""
    fig = Figure(figsize=(7, 3.2))
    ax = fig.subplots()
    points = data["points"]
    xs = [p["run"] for p in points]
    for stat in data["stats"]:
        ys = [_nan(p["values"][stat]) for p in points]
        ax.plot(xs, ys, marker="o", color=STAT_COLORS[stat], label=stat)
    for b in data["bounds"]:
        label = f"{b['stat']} {b['kind']} {b['value']:g}"
        ax.axhline(b["value"], color=STAT_COLORS[b["stat"]], linestyle=BOUND_STYLES[b["kind"]], label=label)
    for i, x in enumerate(p["run"] for p in points if p["missing"]):
        ax.axvspan(x - 0.4, x + 0.4, color=COLORS["under"], alpha=0.15, label="no figure" if i == 0 else None)
    return _by_run(fig, ax, data, points)
