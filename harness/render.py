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
        loader=PackageLoader("harness", "templates"), undefined=StrictUndefined,
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True, autoescape=False,
    )
    env.filters.update(pct=pct, target_pct=target_pct, delta=delta, day=day, cell=cell)
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
                f"  {target_pct(e['target']):>6}  {_plain_mark(mark(e, accepted, key))}"
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
