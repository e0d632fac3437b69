"""Every text the harness shows, from plain data: Markdown here (Jinja2), terminal text in terminal.py.

Nothing in this package reads or writes a file.
"""

import datetime as dt
import re

from jinja2 import Environment, PackageLoader, StrictUndefined

from harness.evaluate.mutation import mutated_files
from harness.evaluate.status import STATUS_LABELS
from harness.report import metrics as metric_text
from harness.report import stability as stability_report
from harness.report.marks import MARKS
from harness.run.records import is_xfail

MARKDOWN_SPECIAL = set("\\[]*_`<>")
ICONS = {
    "complete": "✅",
    "complete_with_variance": "✅",
    "in_progress": "🔄",
    "failed": "❌",
    "unstable": "⚠️",
}


def markdown_image(alt: str, path: str) -> str:
    """`![alt](path)`, the alt escaped so that `__init__.py` or `[x]` stays literal text."""
    escaped = "".join(f"\\{c}" if c in MARKDOWN_SPECIAL else c for c in alt)
    return f"![{escaped}]({path})"


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


def tests_line(t: dict, compact: bool = False, xfailed: int = 0) -> str:
    """`2 passed, 0 failed, 1 skipped, 0 errors`; compact folds errors into failed (the MAP.md cell).
    Skipped counts expected failures too, as JUnit does; `xfailed` says how many of them, when known.
    Flaky and quarantined tests (repetitions, reruns, the spec's quarantine) follow when there are any."""
    skipped = f"{t['skipped']} skipped" + (f" ({xfailed} xfailed)" if xfailed else "")
    if compact:
        text = f"{t['passed']} passed, {t['failed'] + t['errors']} failed, {skipped}"
    else:
        text = f"{t['passed']} passed, {t['failed']} failed, {skipped}, {t['errors']} errors"
    return text + "".join(f", {t[k]} {k}" for k in ("flaky", "quarantined") if t.get(k))


def xfailed(result: dict) -> int:
    """How many of the skipped tests were expected failures (their records' messages say so)."""
    return sum(1 for skip in result.get("skips") or [] if is_xfail(skip.get("message", "")))


def tests_summary(result: dict) -> str:
    """The tests' outcomes, then the tests the selection left out and the subtests, when there are any."""
    text = tests_line(result["tests"], xfailed=xfailed(result))
    if result.get("deselected"):
        text += f", {result['deselected']} deselected"
    subtests = result.get("subtests") or {}
    if any(subtests.values()):
        counts = ", ".join(f"{subtests.get(k, 0)} {k}" for k in ("passed", "failed", "skipped"))
        text += f"; subtests: {counts}"
    return text


def subtests_cell(counts: dict | None) -> str:
    """A class's subtests in the Tests table: `21039`, or `7 (1 failed, 1 skipped)`; `—` for none."""
    counts = counts or {}
    if not any(counts.values()):
        return "—"
    others = [f"{counts[k]} {k}" for k in ("failed", "skipped") if counts.get(k)]
    return f"{counts.get('passed', 0)}" + (f" ({', '.join(others)})" if others else "")


def has_baseline(result: dict) -> bool:
    """Whether the run had a baseline to compare with (else the tables leave out Baseline and Δ)."""
    rows = [result.get("overall") or {}, *result.get("files", {}).values()]
    return bool(result.get("baseline")) or any(row.get("baseline") is not None for row in rows)


def table_columns(result: dict) -> dict[str, bool]:
    """The file table's optional columns: branch counts (a branch-measured result that has them: not
    one stored before they were kept) and Baseline and Δ (a run with a baseline)."""
    branches = bool(result.get("branch")) and "branches" in (result.get("overall") or {})
    return {"branches": branches, "baseline": has_baseline(result)}


def branch_only(entry: dict) -> bool:
    """A file short of 100% only because some branches never ran: every statement did."""
    return entry.get("missed") == 0 and bool(entry.get("branches_missed")) and (entry["percent"] or 0) < 100


SHOWN_ARCS = 10  # of a file's missing branches, in the list of files short only by branches


def arcs(entry: dict) -> str:
    """A file's missing branches (`12->14, 30->exit`), the first SHOWN_ARCS and how many more."""
    shown = entry.get("missing_branches", [])
    more = len(shown) - SHOWN_ARCS
    return ", ".join(shown[:SHOWN_ARCS]) + (f" and {more} more" if more > 0 else "")


def templates(autoescape: bool) -> Environment:
    """The report templates' Jinja2 environment: undefined names fail, block tags leave no blank lines;
    `autoescape` for HTML (the site), not for Markdown."""
    return Environment(
        loader=PackageLoader("harness.report", "templates"),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=autoescape,
    )


def _environment() -> Environment:
    env = templates(autoescape=False)
    named = (pct, target_pct, delta, day, cell, goal, goal_item, step_goal, codes, metric_name, origin)
    env.filters.update({f.__name__: f for f in named}, tests=tests_line)
    env.filters.update(
        image=lambda chart: markdown_image(chart["alt"], chart["path"]),
        mutation_cell=lambda path, r: mutation_cell(r.get("mutation"), path),
        metrics_cell=metric_text.map_cell,
    )
    env.filters.update(tests_summary=tests_summary, subtests=subtests_cell, arcs=arcs)
    env.filters.update(stability_report.FILTERS)
    env.globals.update(labels=STATUS_LABELS, icons=ICONS, mark=mark, step_mark=step_mark, shortfall=shortfall)
    env.globals.update(mutation_total=mutation_total, mutated_files=mutated_files)
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


def mutation_gap(mutation: dict | None, path: str) -> bool:
    """Whether a file's mutation result needs a gap analysis: survivors, or a missed mutation target."""
    entry = (mutation or {}).get("files", {}).get(path)
    missed = path in (mutation or {}).get("not_measured", [])
    return missed or bool(entry and (entry["survivors"] or not entry["gating_met"]))


def mutation_cell(mutation: dict | None, path: str) -> str:
    """A file's mutation score for the coverage table: the score, `—` without mutants, or not measured."""
    if path in (mutation or {}).get("not_measured", []):
        return "not measured"
    entry = (mutation or {}).get("files", {}).get(path)
    if entry is None or entry["score"] is None:
        return "—"
    target = "" if entry["target"] is None else (" ✅" if entry["gating_met"] and entry["met"] else " ❌")
    return f"{pct(entry['score'])}{target}"


def mutation_total(score: float | None, mutated: tuple[int, int]) -> str:
    """The module's total mutation score; `(4 of 11 files)` after it when not every file was mutated."""
    done, files = mutated
    return pct(score) if score is None or done >= files else f"{pct(score)} ({done} of {files} files)"


def report_view(files: dict[str, dict], mutation: dict | None = None) -> dict:
    """Which files the report's tables and gap analysis show, and how much of each list is cut.

    `branch_only` lists the files short of 100% only by branches that are not below a target (those have
    the gap analysis).
    """
    below = [(p, e) for p, e in files.items() if e.get("met") is False or mutation_gap(mutation, p)]
    if len(files) <= SUMMARISE_ABOVE:
        view = {"summarised": False, "rows": list(files.items()), "gaps": below, "compact": [], "cut": {}}
        return _with_branch_only(view, files, {p for p, _ in below})
    below.sort(key=lambda pe: -shortfall(pe[1]))
    rest = [(p, e) for p, e in files.items() if e.get("met") is not False]
    view = {
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
    return _with_branch_only(view, files, {p for p, _ in below})


def _with_branch_only(view: dict, files: dict[str, dict], analysed: set[str]) -> dict:
    found = [(p, e) for p, e in files.items() if p not in analysed and branch_only(e)]
    view["branch_only"] = found[:COMPACT_GAPS]
    view["cut"]["branch_only"] = max(0, len(found) - COMPACT_GAPS)
    return view


def compile_templates() -> None:
    """Compile the templates a run renders (`harness.run.prewarm` does this while pytest runs)."""
    for name in ("completion_status.md.j2", "metrics.md.j2", "map_block.md.j2"):
        _ENV.get_template(name)


def render_partial(name: str, **context) -> str:
    """One template of the report on its own (a section), blank-line runs folded as in the whole report."""
    return re.sub(r"\n{3,}", "\n\n", _ENV.get_template(name).render(**context))


def completion_status(result: dict) -> str:
    text = _ENV.get_template("completion_status.md.j2").render(
        r=result,
        accepted=_accepted(result),
        view=report_view(result.get("files", {}), result.get("mutation")),
        cols=table_columns(result),
        # Results stored before step rows named their metric show module-wide figures there.
        steps_scoped=any("metric" in row for step in result.get("steps", []) for row in step["rows"]),
        metrics=metrics_section(result),
    )
    # Optional sections leave runs of blank lines behind; one blank line between blocks reads best.
    return re.sub(r"\n{3,}", "\n\n", text)


def metrics_section(result: dict) -> str:
    """The report's "Measured Figures" section alone ("" without figures or metric targets)."""
    shown = metric_text.view(result)
    return "" if shown is None else _ENV.get_template("metrics.md.j2").render(metrics=shown)


def github_summary(result: dict) -> str:
    """The Markdown summary for a CI job page or a pull-request comment (below-target files first, then
    the metric targets)."""
    view = report_view(result.get("files", {}))
    shown = metric_text.view(result)
    return _ENV.get_template("summary.md.j2").render(
        r=result, accepted=_accepted(result), view=view, metrics=shown
    )


def map_block(rows: list[dict], chart=None) -> str:
    """The MAP.md block: a row per module, and the trend chart of every module when one was drawn."""
    mutation = any(row["mutation"] is not None for row in rows)  # a column only where measured
    metrics = any(row.get("metrics") is not None for row in rows)  # and only where a module has targets
    return _ENV.get_template("map_block.md.j2").render(
        rows=rows, chart=chart, mutation=mutation, metrics=metrics
    )


def _accepted(result: dict) -> list[str]:
    acceptance = result.get("acceptance")
    return list(acceptance["accepted"]) if acceptance else []


_ENV = _environment()
