"""A run of only the tests a change affects (`harness run --changed`), measured with each test's context."""

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from harness.errors import DataError
from harness.measure import baseline, coverage, per_test
from harness.measure.affected import Selection
from harness.measure.session import Measured, Session, measure
from harness.run import progress, workers
from harness.run.session import RunOptions, run_session
from harness.spec.model import ModuleSpec
from harness.spec.preflight import check_spec
from harness.spec.project import Project
from harness.store import disk, layout

Echo = Callable[[str], None]


@dataclass(frozen=True)
class Selected:
    """A run of the tests a change affects: what it measured (None when no test is affected: the
    suites are then only collected, which imports what the tests import), coverage.py's JSON report of
    it, the measured files a test of it ran a line of (the others' figures are carried from the whole
    run's record), and why the session broke, if it did."""

    measured: Measured | None
    report: dict
    ran: frozenset[str]
    failure: str | None


def run_selected(
    project: Project, spec: ModuleSpec, selection: Selection, options: RunOptions, echo: Echo
) -> Selected:
    """Run only the tests `selection` names (`harness run --changed`), under coverage with each test's
    context. Nothing of the module's stored result or of its whole run's record changes: the run's
    contexts are kept apart, for `harness mutate --changed` on this tree (`per_test.keep(selected=True)`)."""
    measured_files = check_spec(project, spec)
    at = layout.files(project, spec.id)
    work = baseline.work_dir(at)
    nothing = not selection.tests and not selection.files
    if nothing:
        echo("No test is affected by the change: none runs (the suites are collected: imports run code)")
    try:
        options = workers.resolve(replace(options, workers=None) if nothing else options, at.junit, echo)
        stamp, started = per_test.tree_stamp(project), disk.now()
        chosen = work / "selection.json"
        chosen.write_text(json.dumps(selection.to_json()), encoding="utf-8")  # scratch, as the run's own
        display = progress.for_run(options.quiet, options.verbose)
        session = run_session(
            project.root, spec.all_suites(), spec.source, work, options, echo, display,
            test_contexts=True, selection=chosen,
        )  # fmt: skip
        measuring = Session(project.root, session.process_dicts(), session.data_file, work, spec.source)
        report = _report_or_none(project.root, session.data_file, measuring.out)
        ran = _ran(project, session.data_file, measured_files)
        if nothing:
            return _collected_only(project, session, report, ran, measured_files, measuring.out)
        measured = measure(measuring, started, options.as_dict(), None, early=report)
        if measured.failure is None:
            per_test.keep(project, spec.id, session.data_file, measured.outcomes, stamp, selected=True)
        return Selected(measured, report or {"files": {}}, ran, measured.failure)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _collected_only(project: Project, session, report, ran, measured_files, out: Path) -> Selected:
    """A session that only collected (pytest's status 5: no test ran, as asked)."""
    broken = [p for p in session.processes if p.exit_code not in (0, 5)]
    failure = (broken[0].error or f"pytest exited with status {broken[0].exit_code}") if broken else None
    if report is None:  # nothing was imported from the measured code: none of it ran
        python = [f for f in measured_files if f.endswith(".py")]
        report = coverage.unrun_report(project.root, python, out) if python else None
    return Selected(None, report or {"files": {}}, ran, failure)


def _report_or_none(root: Path, data_file: Path, out: Path) -> dict | None:
    if not data_file.is_file():
        return None
    try:
        return coverage.json_report(root, data_file, out)
    except DataError:
        return None  # `measure` says why


def _ran(project: Project, data_file: Path, files: list[str]) -> frozenset[str]:
    """The files of which a test (not only the imports before the tests) ran a line."""
    if not data_file.is_file():
        return frozenset()
    lines = per_test.read_contexts(data_file, project.root, files, set())
    return frozenset(f for f, by_line in lines.items() if any(any(ids) for ids in by_line.values()))
