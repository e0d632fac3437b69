"""Rendering with Jinja2: the completion report, the MAP.md block, the CI summary and the terminal table."""

import datetime as dt
import re

from jinja2 import Environment, PackageLoader, StrictUndefined

from harness.charts import markdown_image
from harness.targets import STATUS_LABELS

ICONS = {"complete": "✅", "complete_with_variance": "✅", "in_progress": "🔄", "failed": "❌"}


def pct(value, digits: int = 1) -> str:
    """A percent for people; results.json keeps coverage.py's unrounded figure."""
    if value is None:
        return "—"
    return f"{value:.{digits}f}%"


def target_pct(value) -> str:
    return "—" if value is None else f"{value:g}%"


def delta(value) -> str:
    if value is None:
        return "—"
    return f"{value:+.1f}"


def goal(entry: dict) -> str:
    """The target cell: the binding percent, or the line/branch figures when only those are set."""
    if entry.get("target") is not None:
        return target_pct(entry["target"])
    checks = entry.get("checks") or []
    gating = [c for c in checks if not c["warn_only"]] or checks
    if not gating:
        return "—"
    c = gating[0]
    return ", ".join(
        f"{m} {target_pct(c[m])}" for m in ("percent", "lines", "branches") if c.get(m) is not None
    )


def goal_item(item: dict) -> str:
    """A carry-forward item's target: `85%`, or `lines 90%` when it was a line or branch target."""
    t = item["target"]
    if list(t) == ["percent"]:
        return target_pct(t["percent"])
    return ", ".join(f"{m} {target_pct(v)}" for m, v in t.items())


def step_goal(row: dict) -> str:
    """A step row's target: `65%`, or `lines 65%` when the step gates on lines or branches only."""
    if "metric" not in row:  # a result stored before step rows named their metric
        return goal(row)
    text = target_pct(row["target"])
    return text if row["metric"] == "percent" else f"{row['metric']} {text}"


def codes(names) -> str:
    """Names as inline code, comma-separated (empty for none)."""
    return ", ".join(f"`{name}`" for name in names)


def metric_name(metric: str) -> str:
    return {"percent": "Coverage", "lines": "Line coverage", "branches": "Branch coverage"}[metric]


def origin(text: str) -> str:
    return {"targets": "module target", "overall": "overall target"}.get(text, text)


def day(iso: str | None) -> str:
    return dt.datetime.fromisoformat(iso).date().isoformat() if iso else "—"


def cell(text) -> str:
    """Text safe inside a Markdown table cell."""
    return str(text).replace("|", "\\|").replace("\n", " ")


MARKS = {  # a row's state, as the Markdown reports show it and as the terminal does
    "met": ("✅ met", "ok"),
    "warn": ("⚠️ below (warn only)", "below (warn only)"),
    "accepted": ("☑️ accepted variance", "accepted variance"),
    "below": ("❌ below", "BELOW"),
    "none": ("—", ""),
}


def state(entry: dict, accepted: list[str], key: str) -> str:
    """A file's (or the overall's) state against its targets: a key of MARKS."""
    if entry.get("met") is None:
        return "none"
    if entry["met"]:
        return "met"
    if not entry["gating"] or entry["gating_met"]:
        return "warn"
    return "accepted" if key in accepted else "below"


def mark(entry: dict, accepted: list[str], key: str) -> str:
    """The status cell of a file (or the overall) row in Markdown."""
    return MARKS[state(entry, accepted, key)][0]


def step_mark(row: dict) -> str:
    """The status cell of a step row."""
    return MARKS["met" if row["met"] else ("warn" if row["warn_only"] else "below")][0]


def tests_line(t: dict, compact: bool = False) -> str:
    """`2 passed, 0 failed, 1 skipped, 0 errors`; compact folds errors into failed (the MAP.md cell)."""
    if compact:
        return f"{t['passed']} passed, {t['failed'] + t['errors']} failed, {t['skipped']} skipped"
    return f"{t['passed']} passed, {t['failed']} failed, {t['skipped']} skipped, {t['errors']} errors"


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("harness", "templates"),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters.update(
        pct=pct,
        target_pct=target_pct,
        delta=delta,
        day=day,
        cell=cell,
        goal=goal,
        goal_item=goal_item,
        step_goal=step_goal,
        codes=codes,
        image=lambda chart: markdown_image(chart["alt"], chart["path"]),
        metric_name=metric_name,
        origin=origin,
    )
    env.filters.update(tests=tests_line)
    env.globals.update(labels=STATUS_LABELS, icons=ICONS, mark=mark, step_mark=step_mark, shortfall=shortfall)
    return env


# A report stays readable (and under GitHub's rendering limits) at thousands of files: above
# SUMMARISE_ABOVE files, files that meet their targets are summarised in a collapsed table, the files
# furthest under target get the full gap analysis and the others one line each; long lists are cut with
# a pointer to results.json and the HTML report.
SUMMARISE_ABOVE = 50
TABLE_ROWS = 300
FULL_GAPS = 20
COMPACT_GAPS = 1000


def shortfall(entry: dict) -> float:
    """How far (in points) a file is under its furthest-missed target."""
    return max((s["target"] - s["figure"] for c in entry["checks"] for s in c["short"]), default=0.0)


def report_view(files: dict[str, dict]) -> dict:
    """Which files the report's tables and gap analysis show, and how much of each list is cut."""
    below = [(p, e) for p, e in files.items() if e.get("met") is False]
    if len(files) <= SUMMARISE_ABOVE:
        return {"summarised": False, "rows": list(files.items()), "gaps": below, "compact": [], "cut": {}}
    below.sort(key=lambda pe: -shortfall(pe[1]))
    rest = [(p, e) for p, e in files.items() if e.get("met") is not False]
    return {
        "summarised": True,
        "rows": below[:TABLE_ROWS],
        "others": rest[:TABLE_ROWS],
        "counts": {"files": len(files), "below": len(below), "others": len(rest)},
        "gaps": below[:FULL_GAPS],
        "compact": below[FULL_GAPS : FULL_GAPS + COMPACT_GAPS],
        "cut": {
            "rows": max(0, len(below) - TABLE_ROWS),
            "others": max(0, len(rest) - TABLE_ROWS),
            "gaps": max(0, len(below) - FULL_GAPS - COMPACT_GAPS),
        },
    }


def compile_templates() -> None:
    """Compile the templates a run renders (`harness.prewarm` does this while pytest runs)."""
    for name in ("completion_status.md.j2", "map_block.md.j2"):
        _ENV.get_template(name)


def completion_status(result: dict) -> str:
    text = _ENV.get_template("completion_status.md.j2").render(
        r=result, accepted=_accepted(result), view=report_view(result.get("files", {}))
    )
    # Optional sections leave runs of blank lines behind; one blank line between blocks reads best.
    return re.sub(r"\n{3,}", "\n\n", text)


def github_summary(result: dict) -> str:
    """The Markdown summary for a CI job page or a pull-request comment (below-target files first)."""
    view = report_view(result.get("files", {}))
    return _ENV.get_template("summary.md.j2").render(r=result, accepted=_accepted(result), view=view)


def map_block(rows: list[dict], chart=None) -> str:
    """The MAP.md block: a row per module, and the trend chart of every module when one was drawn."""
    return _ENV.get_template("map_block.md.j2").render(rows=rows, chart=chart)


def _accepted(result: dict) -> list[str]:
    acceptance = result.get("acceptance")
    return list(acceptance["accepted"]) if acceptance else []


def short_files(result: dict) -> list[tuple[str, dict]]:
    """Files (then the overall) below any of their targets, in report order."""
    rows = [(path, e) for path, e in result.get("files", {}).items() if e.get("met") is False]
    overall = result.get("overall") or {}
    if overall.get("met") is False:
        rows.append(("overall", overall))
    return rows


def terminal_table(result: dict) -> str:
    """A short per-file table and the status line, for the end of `harness run`."""
    lines = []
    files = result.get("files", {})
    if files:
        width = max(len(p) for p in [*files, "Overall"])
        lines.append(f"  {'File':<{width}}  {'Baseline':>8}  {'Final':>7}  {'Δ':>6}  {'Target':>6}")
        accepted = _accepted(result)
        for path, e in [*files.items(), ("Overall", result["overall"])]:
            key = "overall" if path == "Overall" else path
            lines.append(
                f"  {path:<{width}}  {pct(e['baseline']):>8}  {pct(e['percent']):>7}  {delta(e['delta']):>6}"
                f"  {goal(e):>6}  {MARKS[state(e, accepted, key)][1]}"
            )
    lines.append(status_line(result))
    if result.get("reason"):
        lines.append(f"Reason: {result['reason']}")
    return "\n".join(lines)


def status_line(result: dict) -> str:
    return f"Status: {STATUS_LABELS[result['status']]}  ({tests_line(result['tests'])})"


def shortfall_lines(result: dict) -> list[str]:
    """`harness check`: every target a file (or the overall) misses, then the module's status."""
    accepted = _accepted(result)
    lines = []
    for key, entry in short_files(result):
        for c in (c for c in entry["checks"] if not c["met"]):
            note = " (warn only)" if c["warn_only"] else (" (accepted variance)" if key in accepted else "")
            for s in c["short"]:
                metric = "" if s["metric"] == "percent" else f" {s['metric']}"
                lines.append(f"{key}:{metric} {pct(s['figure'], 2)} < target {target_pct(s['target'])}{note}")
    reason = f" ({result['reason']})" if result.get("reason") else ""
    return [*lines, f"{result['module']}: {STATUS_LABELS[result['status']]}{reason}"]


ANNOTATIONS = 50  # GitHub shows a limited number per step; the rest are counted in one notice


def github_annotations(result: dict, limit: int = ANNOTATIONS) -> list[str]:
    """GitHub Actions workflow commands for files below target, at the first uncovered line.

    A gating shortfall is an `::error`, a warn-only one a `::warning`, an accepted one a `::notice`.
    """
    accepted = _accepted(result)
    lines = []
    for path, entry in result.get("files", {}).items():
        kind = {"below": "error", "warn": "warning", "accepted": "notice"}.get(state(entry, accepted, path))
        if kind:
            text = "; ".join(
                f"{metric_name(s['metric'])} {pct(s['figure'], 2)} < target {target_pct(s['target'])}"
                f" ({origin(c['origin'])})"
                for c in entry["checks"]
                if not c["met"]
                for s in c["short"]
            )
            where = (
                f"file={_gh_property(path)},line={first_uncovered_line(entry)},title=Coverage below target"
            )
            lines.append(f"::{kind} {where}::{_gh_data(f'{path}: {text}')}")
    if len(lines) > limit:
        more = len(lines) - limit
        lines = [*lines[:limit], f"::notice::{more} more files below target; see the completion report"]
    return lines


def first_uncovered_line(entry: dict) -> int:
    """The first missing line (or the source line of the first missing branch); 1 when none is known."""
    if entry.get("gaps"):
        return int(entry["gaps"][0]["lines"].split("-")[0])
    if entry.get("missing_branches"):
        return int(entry["missing_branches"][0].split("->")[0])
    return 1


def _gh_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _gh_property(text: str) -> str:
    return _gh_data(text).replace(":", "%3A").replace(",", "%2C")


def diff_table(comparison: dict) -> str:
    """`harness diff`: one row per file and the overall, A's figure, B's and the change."""
    rows = [*comparison["files"].items(), ("Overall", comparison["overall"])]
    width = max(len(p) for p, _ in rows)
    lines = [f"{'File':<{width}}  {comparison['a']!s:>12}  {comparison['b']!s:>12}  {'Δ':>7}"]
    for path, row in rows:
        lines.append(f"{path:<{width}}  {pct(row['a']):>12}  {pct(row['b']):>12}  {delta(row['delta']):>7}")
    return "\n".join(lines)


def list_line(module_id: str, title: str, result: dict | None, invalid: bool = False) -> str:
    """`harness list`: a module, its last status, coverage and date (or that it has not run)."""
    summary = "invalid spec (see stderr)" if invalid else "not run yet"
    if result is not None and not invalid:
        summary = (
            f"{result['status_label']}  {pct(result['overall']['percent'])}  {day(result['finished_at'])}"
        )
    return f"{module_id:<16} {summary:<48} {title}"


_ENV = _environment()
