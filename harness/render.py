"""Rendering with Jinja2: the completion report, the MAP.md block, the CI summary and the terminal table."""

import datetime as dt
import re

from jinja2 import Environment, PackageLoader, StrictUndefined

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


def origin(text: str) -> str:
    return {"targets": "module target", "overall": "overall target"}.get(text, text)


def day(iso: str | None) -> str:
    return dt.datetime.fromisoformat(iso).date().isoformat() if iso else "—"


def cell(text) -> str:
    """Text safe inside a Markdown table cell."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def mark(entry: dict, accepted: list[str], key: str) -> str:
    """The status cell of a file (or the overall) row."""
    if entry.get("met") is None:
        return "—"
    if entry["met"]:
        return "✅ met"
    if not entry["gating"] or entry["gating_met"]:
        return "⚠️ below (warn only)"
    return "☑️ accepted variance" if key in accepted else "❌ below"


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
        origin=origin,
    )
    env.globals.update(labels=STATUS_LABELS, icons=ICONS, mark=mark)
    return env


_ENV = _environment()


def completion_status(result: dict) -> str:
    text = _ENV.get_template("completion_status.md.j2").render(r=result, accepted=_accepted(result))
    # Optional sections leave runs of blank lines behind; one blank line between blocks reads best.
    return re.sub(r"\n{3,}", "\n\n", text)


def github_summary(result: dict) -> str:
    return _ENV.get_template("summary.md.j2").render(r=result, accepted=_accepted(result))


def map_block(rows: list[dict]) -> str:
    return _ENV.get_template("map_block.md.j2").render(rows=rows)


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
                f"  {goal(e):>6}  {_plain_mark(mark(e, accepted, key))}"
            )
    t = result["tests"]
    lines.append(
        f"Status: {STATUS_LABELS[result['status']]}"
        f"  ({t['passed']} passed, {t['failed']} failed, {t['skipped']} skipped, {t['errors']} errors)"
    )
    if result.get("reason"):
        lines.append(f"Reason: {result['reason']}")
    return "\n".join(lines)


def _plain_mark(text: str) -> str:
    return {"✅ met": "ok", "❌ below": "BELOW", "—": ""}.get(text, text.split(" ", 1)[-1])
