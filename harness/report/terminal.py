"""Terminal text: the run's table and status line; `check`, `diff`, `list` and `history`; CI annotations."""

from harness.evaluate.history import Counts, Run, Shown, figure
from harness.report import columns
from harness.report import metrics as metric_text
from harness.report.markdown import (
    MARKS,
    STATUS_LABELS,
    _accepted,
    day,
    delta,
    goal,
    goal_item,
    has_baseline,
    metric_name,
    origin,
    pct,
    state,
    target_pct,
    tests_summary,
)

__all__ = [
    "accept_lines",
    "diff_table",
    "first_uncovered_line",
    "github_annotations",
    "history_table",
    "list_lines",
    "mutation_lines",
    "report_line",
    "short_files",
    "shortfall_lines",
    "status_line",
    "terminal_table",
]


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
    accepted = _accepted(result)
    if files:
        width = max(len(p) for p in [*files, "Overall"])
        compared = has_baseline(result)  # without a baseline, no Baseline and Δ columns
        head = f"{'Baseline':>8}  {'Final':>7}  {'Δ':>6}" if compared else f"{'Final':>7}"
        lines.append(f"  {'File':<{width}}  {head}  {'Target':>6}")
        for path, e in [*files.items(), ("Overall", result["overall"])]:
            key = "overall" if path == "Overall" else path
            figures = f"{pct(e['percent']):>7}"
            if compared:
                figures = f"{pct(e['baseline']):>8}  {figures}  {delta(e['delta']):>6}"
            lines.append(f"  {path:<{width}}  {figures}  {goal(e):>6}  {MARKS[state(e, accepted, key)][1]}")
    figures = metric_text.terminal_lines(result)
    lines += ["  Metric targets:", *figures] if figures else []
    # The table shows coverage only: a module held back by its mutation targets says which, here.
    missed = _mutation_shortfalls(result.get("mutation"), accepted)
    lines += ["  Mutation targets missed:", *(f"    {line}" for line in missed)] if missed else []
    lines.append(status_line(result))
    if result.get("reason"):
        lines.append(f"Reason: {result['reason']}")
    return "\n".join(lines)


def status_line(result: dict) -> str:
    return f"Status: {STATUS_LABELS[result['status']]}  ({tests_summary(result)})"


def shortfall_lines(result: dict) -> list[str]:
    """`harness check`: every target a file (or the overall) misses, what stability findings block (or
    only warn of), then the module's status."""
    accepted = _accepted(result)
    lines = []
    for key, entry in short_files(result):
        for c in (c for c in entry["checks"] if not c["met"]):
            note = " (warn only)" if c["warn_only"] else (" (accepted variance)" if key in accepted else "")
            for s in c["short"]:
                metric = "" if s["metric"] == "percent" else f" {s['metric']}"
                lines.append(f"{key}:{metric} {pct(s['figure'], 2)} < target {target_pct(s['target'])}{note}")
    lines += _mutation_shortfalls(result.get("mutation"), accepted)
    lines += metric_text.check_lines(result)
    stability = result.get("stability") or {}
    lines += [f"blocking: {line}" for line in stability.get("blocking", [])]
    lines += [f"warning: {line}" for line in stability.get("warnings", [])]
    reason = f" ({result['reason']})" if result.get("reason") else ""
    return [*lines, f"{result['module']}: {STATUS_LABELS[result['status']]}{reason}"]


def _mutation_shortfalls(mutation: dict | None, accepted: list[str]) -> list[str]:
    """`check`'s lines for mutation targets: a score below its target, or a file not measured."""
    if not mutation:
        return []
    lines = []
    for key in mutation["unmet"]:
        path = key.split(":", 1)[1]
        note = " (accepted variance)" if key in accepted else ""
        entry = mutation["overall"] if path == "overall" else mutation["files"].get(path)
        if entry is None or entry["score"] is None:
            lines.append(f"{path}: mutation score not measured (run `harness mutate`){note}")
        else:
            lines.append(
                f"{path}: mutation {pct(entry['score'], 2)} < target {target_pct(entry['target'])}{note}"
            )
    return lines


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
            where = f"file={gh_property(path)},line={first_uncovered_line(entry)},title=Coverage below target"
            lines.append(f"::{kind} {where}::{gh_data(f'{path}: {text}')}")
    if len(lines) > limit:
        more = len(lines) - limit
        lines = [*lines[:limit], f"::notice::{more} more files below target; see the completion report"]
    return lines + _metric_annotations(result, accepted)


def _metric_annotations(result: dict, accepted: list[str]) -> list[str]:
    """One annotation per missed metric target (a figure has no file or line to point at)."""
    lines = []
    for check, line in metric_text.missed(result):
        kind = {"below": "error", "warn": "warning", "accepted": "notice"}[metric_text.state(check, accepted)]
        lines.append(f"::{kind} title=Metric below target::{gh_data(line)}")
    return lines


def first_uncovered_line(entry: dict) -> int:
    """The first missing line (or the source line of the first missing branch); 1 when none is known."""
    if entry.get("gaps"):
        return int(entry["gaps"][0]["lines"].split("-")[0])
    if entry.get("missing_branches"):
        return int(entry["missing_branches"][0].split("->")[0])
    return 1


def gh_data(text: str) -> str:
    """`text` as a GitHub workflow command's message (its escapes)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def gh_property(text: str) -> str:
    """`text` as a GitHub workflow command's property value (`file=`, `title=`)."""
    return gh_data(text).replace(":", "%3A").replace(",", "%2C")


def diff_table(comparison: dict, refs: tuple[str, str] | None = None) -> str:
    """`harness diff`: one row per file and the overall, A's figure, B's and the change. The columns are
    named by module, or by `refs` (as the command was given them) when both results are one module's."""
    rows = [*comparison["files"].items(), ("Overall", comparison["overall"])]
    width = max(len(p) for p, _ in rows)
    a, b = refs if refs and comparison["a"] == comparison["b"] else (comparison["a"], comparison["b"])
    lines = [f"{'File':<{width}}  {a!s:>12}  {b!s:>12}  {'Δ':>7}"]
    for path, row in rows:
        lines.append(f"{path:<{width}}  {pct(row['a']):>12}  {pct(row['b']):>12}  {delta(row['delta']):>7}")
    return "\n".join(lines)


def list_lines(rows: list[tuple[str, str, dict | None, bool]]) -> list[str]:
    """`harness list`: per module (id, title, last result, whether its spec is invalid) its status,
    coverage and date, or that it has not run or its spec is invalid, in columns."""
    body = []
    for module_id, title, result, invalid in rows:
        if invalid or result is None:
            status, figure, date = ("invalid spec (see stderr)" if invalid else "not run yet"), "", ""
        else:
            status, figure, date = (
                result["status_label"],
                pct(result["overall"]["percent"]),
                day(result["finished_at"]),
            )
        body.append((module_id, status, figure, date, title))
    return columns.table(("Module", "Status", "Coverage", "Date", "Title"), body, "<<><<")


def history_table(shown: Shown, trace_file: str) -> str:
    """`harness history`: date, commit, status, tests, figure, Δ and notes, oldest run first."""
    module_id, step, file, rows, total = shown.module_id, shown.step, shown.file, shown.rows, shown.total
    if not rows:
        what = f"{module_id} step {step}" if step else module_id
        return f"{what}: no finished runs in {trace_file}"
    what = f"{module_id}{f' step {step}' if step else ''}{f', {file}' if file else ''}"
    shown = f"last {len(rows)} of {total}" if len(rows) < total else str(total)
    head = ("Date", "Commit", "Status", "Tests", "File" if file else "Overall", "Δ", "Notes")
    body = [
        (
            columns.when(run.at),
            (run.commit or "—")[:7],
            STATUS_LABELS.get(run.status, run.status or "—"),
            _tests_cell(run.tests),
            pct(figure(run, file)),
            _delta(change),
            _notes(run),
        )
        for run, change in rows
    ]
    title = f"{what}: {shown} finished run{'s' if total != 1 else ''}"
    return "\n".join([title, *columns.table(head, body, "<<<<>><")])


def _delta(change: float | None) -> str:
    text = "—" if change is None else f"{change:+.1f}"
    return "±0.0" if text in ("+0.0", "-0.0") else text


def _tests_cell(tests: Counts | None) -> str:
    if tests is None:
        return "—"
    parts = [f"{tests.passed if tests.passed is not None else '?'} passed"]
    counted = (("failed", tests.failed), ("errors", tests.errors), ("flaky", tests.flaky))
    parts += [f"{n} {k}" for k, n in (*counted, ("quarantined", tests.quarantined)) if n]
    parts += [f"{tests.skipped} skipped"] if tests.skipped else []
    return ", ".join(parts)


def _notes(run: Run) -> str:
    notes = [f"{run.shards} shards combined"] if run.shards else []
    notes += [f"mutation {pct(run.mutation)}"] if run.mutation is not None else []
    notes += [_stability_note(run.stability)] if run.stability is not None else []
    notes += [run.reason] if run.reason else []
    return "; ".join(notes)


def _stability_note(found) -> str:
    """`stable (5x)`, or what was unstable: `2 flaky, 1 order-dependent, 1 unstable file (3x)`."""
    times = f" ({found.repetitions}x)" if found.repetitions and found.repetitions > 1 else ""
    parts = [f"{len(found.flaky)} flaky"] if found.flaky else []
    parts += [f"{len(found.order_dependent)} order-dependent"] if found.order_dependent else []
    files = len(found.unstable_files)
    parts += [f"{files} unstable file{'s' if files != 1 else ''}"] if files else []
    return f"{', '.join(parts) or ('stable' if found.stable else 'unstable')}{times}"


SHOWN_SURVIVORS = 20
MUTATION_COLUMNS = ("Mutants", "Killed", "Survived", "Timeout", "NoTests", "Equiv.")
MUTATION_COUNTS = ("mutants", "killed", "survived", "timeout", "no_tests", "equivalent")


def mutation_lines(doc: dict, verdict: dict, survivors) -> list[str]:
    """`harness mutate`: per file the counts, score and target, the first survivors, missed targets."""
    width = max([len(f) for f in doc["files"]] + [5])
    lines = [f"  {'File':<{width}} {' '.join(MUTATION_COLUMNS)}   Score  Target"]
    totals = {k: sum(f[k] for f in doc["files"].values()) for k in MUTATION_COUNTS}
    counted = totals["mutants"] - totals["equivalent"]
    totals["score"] = 100.0 * (totals["killed"] + totals["timeout"]) / counted if counted else None
    for path, row in [*doc["files"].items(), ("Total", totals)]:
        check = verdict["overall"] if path == "Total" else verdict["files"][path]
        counts = " ".join(
            f"{row[k]:>{len(h)}}" for k, h in zip(MUTATION_COUNTS, MUTATION_COLUMNS, strict=True)
        )
        lines.append(f"  {path:<{width}} {counts} {pct(row['score']):>7} {_mutation_target(check)}".rstrip())
    found = [s | {"file": f} for f in doc["files"] for s in survivors(doc, f)]
    for s in found[:SHOWN_SURVIVORS]:
        where = f" in {s['function']}" if s["function"] else ""
        change = f"{s['before']} -> {s['after'] or '(removed)'}"
        lines.append(f"  survived {s['file']}:{s['line']} {s['operator']}{where}: {change}  [{s['id']}]")
    if len(found) > SHOWN_SURVIVORS:
        lines.append(f"  … {len(found) - SHOWN_SURVIVORS} more survivor(s) in mutation.json")
    for key in verdict["unmet"]:
        check = verdict["overall"] if key == "overall" else verdict["files"][key]
        lines.append(f"{key}: mutation score {pct(check['score'])} < target {check['target']:g}%")
    return lines


def _mutation_target(check: dict) -> str:
    if check["target"] is None:
        return ""
    ok = check["gating_met"] and check["met"] is not False
    return f"{check['target']:>5g}%  {'ok' if ok else ('warn' if check['gating_met'] else 'short')}"


def report_line(report: str, result: dict) -> str:
    """`harness report`: where the report is and the module's status."""
    return f"{report}: {result['status_label']}"


def accept_lines(module_id: str, result: dict) -> list[str]:
    """`harness accept`: the status, and each carry-forward item with its figure and target."""
    items = result["carry_forward"]
    figures = (result.get("metrics") or {}).get("carry_forward") or []
    lines = [f"{module_id}: {result['status_label']}; {len(items) + len(figures)} carry-forward item(s):"]
    lines += [f"  {item['file']}: {pct(item['percent'])} -> target {goal_item(item)}" for item in items]
    return lines + [f"  metric:{i['metric']}.{i['stat']}: {metric_text.item_text(i)}" for i in figures]
