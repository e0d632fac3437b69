"""A module's baseline: another module's stored result, or the coverage of earlier suites, measured once
and cached in `baseline.json` (measured again when the suites or pytest arguments change, or asked to)."""

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from harness.errors import DataError
from harness.measure import coverage, metrics
from harness.run import progress
from harness.run.session import RunOptions, run_session
from harness.spec.model import Baseline
from harness.spec.project import Project
from harness.store import disk, layout, records

Echo = Callable[[str], None]


def baseline_for(
    project: Project,
    at: layout.ModuleFiles,
    baseline: Baseline,
    sources: tuple[str, ...],
    rebaseline: bool,
    options: RunOptions,
    echo: Echo,
    where: str,
) -> dict:
    """The baseline figures: `{"module", "suites", "measured_at", "files": {path: %}, "overall": %,
    "metrics": {name: figure}}` (figures as `metrics.Figure.as_dict` gives them; a baseline cached
    before metrics were measured has none). `where` names the spec in errors."""
    if baseline.module:
        found = records.load_module(project, baseline.module, "it is this module's baseline")
        figures = (found.get("metrics") or {}).get("figures") or {}
        return {**records.baseline_from_result(found, baseline.module), "metrics": figures}
    key = {"suites": [s.path for s in baseline.suites], "pytest_args": list(options.pytest_args)}
    cached = records.load_baseline(at)
    if cached is not None and not rebaseline and {k: cached.get(k, []) for k in key} == key:
        return cached
    echo(f"Measuring the baseline of {at.module_id} from {len(key['suites'])} suite(s)")
    work = work_dir(at)
    try:
        figures, why, log = _measure(project, baseline, sources, options, work, echo)
        measured = {"module": None, **key, **figures} if figures is not None else None
        records.save_baseline(project, at, measured, log)
        if measured is None:
            raise DataError(f"{where}: baseline.suites: {why} (see {project.relative(at.baseline_log)})")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return measured


def _measure(project: Project, baseline: Baseline, sources, options: RunOptions, work: Path, echo: Echo):
    """The baseline suites run like the module (same pytest arguments, same -v): the figures (or None
    and why there are none) and pytest's log."""
    plain = RunOptions(pytest_args=options.pytest_args, verbose=options.verbose, quiet=options.quiet)
    display = progress.for_run(plain.quiet, plain.verbose)
    session = run_session(project.root, baseline.suites, sources, work, plain, echo, display)
    broken = next((p for p in session.processes if p.exit_code not in (0, 1)), None)
    if broken or not session.data_file.is_file():
        return None, (broken.error if broken else "no coverage recorded"), session.log_file
    report = coverage.json_report(project.root, session.data_file, work / "out")
    recorded = metrics.measure(session.process_dicts()).figures
    figures = {
        "measured_at": disk.now(),
        "files": {p: f["percent"] for p, f in coverage.file_figures(report).items()},
        "overall": coverage.totals(report)["percent"],
        "metrics": {name: f.as_dict() for name, f in recorded.items()},
    }
    return figures, None, session.log_file


def work_dir(at: layout.ModuleFiles) -> Path:
    """A fresh scratch directory for one run under the module's `.work/` (removed by the caller)."""
    at.work.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix="run-", dir=at.work))
