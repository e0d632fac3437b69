"""Writing a result's outputs: each file has one writer here, all replaced whole under the project lock."""

import os
from collections.abc import Callable
from pathlib import Path

from harness.evaluate import history, shape
from harness.report import badge, charts, markdown
from harness.run.background import Jobs
from harness.spec.catalog import all_specs
from harness.spec.model import ModuleSpec
from harness.spec.project import Project
from harness.store import disk, layout, records


def write_run(
    at: layout.ModuleFiles,
    produced: Path,
    result: dict,
    logs: list[Path],
    ready: Callable[[], None] = lambda: None,
) -> None:
    """A run's outputs: coverage artifacts and JUnit first, then the log, then the report and shape.json.

    All under the project lock, so two runs of one module cannot interleave their files. `ready()` is
    called before anything is written: there the caller waits for background jobs still writing into
    `produced` (coverage.py's reports, junit.xml).
    """
    log = b"".join(p.read_bytes() for p in logs if p.is_file())
    ready()
    with disk.project_lock(at.project.lock_path):
        for name in (layout.COVERAGE_JSON, layout.COVERAGE_XML, layout.JUNIT):
            if (produced / name).is_file():
                disk.atomic_write(at.dir / name, (produced / name).read_bytes())
        if (produced / layout.HTML).is_dir():
            disk.replace_dir(produced / layout.HTML, at.dir / layout.HTML)
        disk.atomic_write(at.log, log)
        write_report(at, result)
        write_result(at, result)


def write_report(at: layout.ModuleFiles, result: dict) -> None:
    """COMPLETION_STATUS.md: the one place it is written (callers hold the project lock)."""
    disk.atomic_write(at.report, markdown.completion_status(result))


def write_result(at: layout.ModuleFiles, result: dict) -> None:
    """shape.json: the one place it is written (callers hold the project lock)."""
    disk.atomic_write(at.result, shape.dumps(result))


def draw_charts(at: layout.ModuleFiles, result: dict, runs: list, jobs: Jobs | None = None) -> dict:
    """The charts (and, for a module, its badge) beside the report; the result with their links.

    `runs` is the module's (or step's) history including this run. Without matplotlib the result
    says how to get charts instead. With `jobs` the SVGs are drawn as a background job.
    """
    if not at.step:
        badge.write_badge(at.dir, result)
    if not charts.available():
        return {**result, "charts": charts.UNAVAILABLE}
    links, drawings = charts.module_charts(at.dir, result, runs)
    if jobs is None:
        charts.draw(drawings)
    else:
        for drawing in drawings:
            jobs.start(charts.draw, [drawing])  # one job each: they run side by side where cores allow
    return {**result, "charts": [{"path": link.path, "alt": link.alt} for link in links]}


def refresh_map(project: Project) -> None:
    """Re-render MAP.md's harness block from every module's stored result."""

    def block() -> str:
        rows = []
        for spec in sorted((s for s in all_specs(project) if isinstance(s, ModuleSpec)), key=lambda s: s.id):
            result = records.load_if_any(project, spec.id)
            if result is not None:
                link = os.path.relpath(layout.files(project, spec.id).report, project.map_path.parent)
                rows.append(shape.map_row(spec, result, Path(link).as_posix()))
        histories = history.read_histories(project.trace_path, [row["module"] for row in rows])
        chart = charts.write_map_chart(project.reports, project.map_path, rows, histories)
        return markdown.map_block(rows, chart)

    disk.update_map(project.map_path, project.lock_path, block)


def rerender(project: Project, spec: ModuleSpec) -> dict:
    """Write the report and MAP.md again from the stored result."""
    at = layout.files(project, spec.id)
    result = draw_charts(at, records.load(at.result), history.read_runs(project.trace_path, spec.id))
    with disk.project_lock(project.lock_path):
        write_report(at, result)
    refresh_map(project)
    return result
