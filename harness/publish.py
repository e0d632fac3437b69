"""The one publish: every command that changes a module's record ends here.

Under the project lock, `publish` reads the stored result, applies the command's change to it, and
writes everything that shows the result: the badge and charts, coverage.py's reports and the run's
logs (for a run), COMPLETION_STATUS.md, results.json, the command's trace events, the run's line in
the module's outcome log, and the module's row in MAP.md. Two commands that overlap (a run, an
acceptance, a mutation run) therefore each apply their change to what the other wrote, and nothing
is lost.
"""

import contextlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from harness.evaluate import history, shape
from harness.report import badge, charts, markdown
from harness.report import patch as patch_report
from harness.run.background import Jobs
from harness.run.span import RunSpan
from harness.spec.catalog import all_specs
from harness.spec.model import ModuleSpec
from harness.spec.project import Project
from harness.store import disk, layout, mapfile, outcome_log, records, trace

Change = Callable[[dict | None], dict | None]


@dataclass(frozen=True)
class Produced:
    """What a run leaves to be stored beside its result: coverage.py's reports and junit.xml in `out`,
    and the pytest logs. `ready()` waits for the jobs still writing into `out`."""

    out: Path
    logs: Sequence[Path]
    ready: Callable[[], None] = field(default=lambda: None)


def publish(
    project: Project,
    spec: ModuleSpec,
    change: Change,
    step: int | None = None,
    produced: Produced | None = None,
    log: Callable[[dict], Sequence[trace.Event]] | None = None,
    span: RunSpan | None = None,
    jobs: Jobs | None = None,
    write_result: bool = True,
    outcomes: outcome_log.RunOutcomes | None = None,
) -> dict | None:
    """Apply `change` to the stored result of the module (or step) and write every output; returns the
    result written, or None when `change` gives none (nothing is written then).

    `log(result)` gives the events to append once the result is written (`span` then counts as ended).
    With `jobs`, charts are drawn by forked jobs while the rest is written; `write_result=False` leaves
    results.json as it is (`harness report` only renders). `outcomes` is a run's line for the module's
    outcome log (its tests' outcomes at the source state it ran at).
    """
    at = layout.files(project, spec.id, step)
    with disk.locked(project):
        result = change(records.load_if_any(at))
        if result is None:
            return None
        events = log(result) if log is not None else ()
        finished = [history.run_from_event(e) for e in events if isinstance(e, trace.RunFinished)]
        runs = [*history.read_runs(project, spec.id, step), *finished]
        with Jobs() if jobs is not None else contextlib.nullcontext() as drawing:
            result = _with_charts(at, result, runs, drawing)
            if produced is not None:
                _store_produced(at, produced)
            disk.atomic_write(at.report, markdown.completion_status(result))
            if write_result:
                records.save(at, result)
            _log(project, at, events, span, outcomes)
            if step is None:
                refresh_map(project)
    return result


def _log(project: Project, at: layout.ModuleFiles, events, span: RunSpan | None, outcomes) -> None:
    """The command's trace events (a run's end: its span then counts as ended), and a run's outcome line."""
    if events:
        trace.append(project, *events)
        if span is not None:
            span.ended = True
    if outcomes is not None and outcomes.outcomes:
        outcome_log.append(project, at.outcomes, outcomes)


def _with_charts(at: layout.ModuleFiles, result: dict, runs: list, jobs: Jobs | None) -> dict:
    """Draw the badge (of a module) and the charts; the result with their links (or why there are none)."""
    if at.step is None:
        percent = (result.get("overall") or {}).get("percent")
        drawn = badge.badge_svg(result["module"], result.get("status"), percent)
        if drawn is not None:
            disk.atomic_write(at.badge, drawn)
    if not charts.available():
        return {**result, "charts": charts.UNAVAILABLE}
    links, drawings = charts.module_charts(at, result, runs)
    if not result.get("files"):
        disk.remove(at.files_chart)  # what sits beside the report always matches it
    linked = {at.dir / link["path"] for link in links}
    for stale in (path for path in at.metric_charts() if path not in linked):
        disk.remove(stale)  # a metric no longer recorded or bound
    for kind, data, path in drawings:
        if jobs is None:
            _draw(kind, data, path)
        else:
            jobs.start(_draw, kind, data, path)  # one job each: they run side by side where cores allow
    return {**result, "charts": links}


def _draw(kind: str, data: dict, path: Path) -> None:
    disk.atomic_write(path, charts.svg(kind, data))


def _store_produced(at: layout.ModuleFiles, produced: Produced) -> None:
    """coverage.py's reports, junit.xml and the pytest log of a run, beside its report."""
    log = b"".join(p.read_bytes() for p in produced.logs if p.is_file())
    produced.ready()
    for name in layout.PRODUCED:
        if (produced.out / name).is_file():
            disk.copy_file(produced.out / name, at.dir / name)
    if (produced.out / layout.HTML).is_dir():
        disk.replace_dir(produced.out / layout.HTML, at.html)
    disk.atomic_write(at.log, log)


def refresh_map(project: Project) -> None:
    """Re-render MAP.md's harness block (and its chart) from every module's stored result."""

    def block() -> str:
        rows = []
        for spec in sorted((s for s in all_specs(project) if isinstance(s, ModuleSpec)), key=lambda s: s.id):
            result = records.load_if_any(layout.files(project, spec.id))
            if result is not None:
                rows.append(
                    shape.map_row(spec, result, _from_map(project, layout.files(project, spec.id).report))
                )
        drawn = charts.map_chart(rows, history.read_histories(project, [row["module"] for row in rows]))
        chart = None
        if drawn is not None:
            disk.atomic_write(layout.map_chart(project), drawn[0])
            chart = {"path": _from_map(project, layout.map_chart(project)), "alt": drawn[1]}
        return markdown.map_block(rows, chart)

    mapfile.update(project, block)


def _from_map(project: Project, path: Path) -> str:
    return Path(os.path.relpath(path, layout.map_file(project).parent)).as_posix()


def publish_patch(project: Project, module_id: str, doc: dict) -> None:
    """A change's patch.json, its PATCH.md and the `patch_measured` event, under the project lock."""
    at = layout.files(project, module_id)
    with disk.locked(project):
        disk.write_json(at.patch, doc)
        disk.atomic_write(at.patch_report, patch_report.patch_markdown(doc))
        trace.append(project, trace.PatchMeasured.of_patch(doc))
