"""What `run` and `combine` do: look up the inputs, run the suites, measure, evaluate, publish."""

import contextlib
import gc
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from harness import outputs
from harness.acceptance import latest_acceptance
from harness.errors import DataError, SpecError, UsageError
from harness.evaluate import history, shape
from harness.evaluate import mutation as gating
from harness.evaluate.contract import Inputs, Measured
from harness.evaluate.targets import (
    STATUS_LABELS,
    carried_targets,
    carry_forward_items,
    constraints,
    evaluate_run,
    failure_reason,
    status,
)
from harness.measure import coverage
from harness.measure import per_test as run_contexts
from harness.measure.outcomes import read_records
from harness.report import junit, terminal
from harness.run import prewarm, progress, workers
from harness.run.background import Jobs
from harness.run.session import RunOptions, run_session
from harness.spec.model import ModuleSpec
from harness.spec.preflight import check_spec
from harness.spec.project import Project
from harness.store import disk, layout, records, shards, trace
from harness.store import mutation as mutation_store
from harness.store import shards as shard_files

Echo = Callable[[str], None]


def prepare(
    project: Project, spec: ModuleSpec, step: int | None, rebaseline: bool, options: RunOptions, echo: Echo
) -> Inputs:
    """Every check and lookup that must pass before a test runs (a shard needs only the checks)."""
    files = check_spec(project, spec)
    if step is not None and not 1 <= step <= len(spec.steps):
        raise UsageError(f"{spec.id} has {len(spec.steps)} step(s); --step {step} does not exist")
    if spec.steps and step is None and any(a.startswith("--cov-context") for a in options.pytest_args):
        raise UsageError(
            f"{spec.id}: drop --cov-context (its steps' figures need the harness's own contexts)"
        )
    if options.shard:
        return Inputs()
    module_level = step is None  # a step run has its own targets: no carried items, no acceptance
    return Inputs(
        carried=tuple(_carried_items(project, spec, files, echo)) if module_level else (),
        acceptance=latest_acceptance(project, spec.id) if module_level else None,
        baseline=_baseline(project, spec, rebaseline, options, echo),
        mutation=mutation_store.fresh_result(project, spec.id) if module_level else None,
    )


def _carried_items(project: Project, spec: ModuleSpec, files: list[str], echo: Echo) -> list[dict]:
    if not spec.carry_forward_from:
        return []
    source = records.load_module(project, spec.carry_forward_from, "carry_forward.from")
    items = source.get("carry_forward", [])
    if not items:
        echo(
            f"Note: {spec.carry_forward_from} has no carry-forward items (it was not accepted with variance)"
        )
    for item in items:
        if item["file"] != "overall" and item["file"] not in files:
            raise SpecError(
                f"{spec.path}: carry_forward.from: item '{item['file']}' of "
                f"{spec.carry_forward_from} is not under this module's source"
            )
    return items


def _baseline(project: Project, spec: ModuleSpec, rebaseline: bool, options: RunOptions, echo: Echo):
    if not spec.baseline:
        return None
    if spec.baseline.module:
        found = records.load_module(project, spec.baseline.module, "it is this module's baseline")
        return records.baseline_from_result(found, spec.baseline.module)
    at = layout.files(project, spec.id)
    key = {"suites": [s.path for s in spec.baseline.suites], "pytest_args": list(options.pytest_args)}
    if at.baseline.is_file() and not rebaseline:
        cached = records.read_json(at.baseline, "baseline")
        if {k: cached.get(k, []) for k in key} == key:
            return cached
    echo(f"Measuring the baseline of {spec.id} from {len(key['suites'])} suite(s)")
    baseline = {"module": None, **key, **_measure_baseline(project, spec, options, echo)}
    disk.atomic_write(at.baseline, json.dumps(baseline, indent=2) + "\n")
    return baseline


def _measure_baseline(project: Project, spec: ModuleSpec, options: RunOptions, echo: Echo) -> dict:
    """The baseline suites run like the module (same pytest arguments, same -v); the log is kept."""
    at = layout.files(project, spec.id)
    work = _workdir(at)
    try:
        plain = RunOptions(pytest_args=options.pytest_args, verbose=options.verbose, quiet=options.quiet)
        session = run_session(
            project.root, spec.baseline.suites, spec.source, work, plain, echo, _display(plain)
        )
        disk.atomic_write(at.baseline_log, session.log_file.read_bytes())
        broken = next((p for p in session.processes if p.exit_code not in (0, 1)), None)
        if broken or not session.data_file.is_file():
            why = broken.error if broken else "no coverage recorded"
            raise DataError(f"{spec.path}: baseline.suites: {why} (see {project.relative(at.baseline_log)})")
        report = coverage.json_report(project.root, session.data_file, work / "out")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {
        "measured_at": disk.now(),
        "files": {p: f["percent"] for p, f in coverage.file_figures(report).items()},
        "overall": coverage.totals(report)["percent"],
    }


def _workdir(at: layout.ModuleFiles) -> Path:
    at.work.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix="run-", dir=at.work))


def _display(options: RunOptions):
    return progress.for_run(options.quiet, options.verbose)


def run_module(
    project: Project,
    spec: ModuleSpec,
    options: RunOptions,
    echo: Echo,
    step: int | None = None,
    rebaseline: bool = False,
) -> dict | None:
    """Run the module (or one step, or one shard); returns the result, or None for a shard."""
    inputs = prepare(project, spec, step, rebaseline, options, echo)
    suites = spec.steps[step - 1].suites if step else spec.all_suites()
    if not suites:
        raise UsageError(f"{spec.id} step {step} has no suites")
    shard = shards.text(options.shard)
    label = f"{spec.id}{f' step {step}' if step else ''}{f' shard {shard}' if shard else ''}"
    with trace.run_span(project, spec, step=step, shard=shard) as span:
        echo(f"Running {label}: {len(suites)} suite path(s), measuring {', '.join(spec.source)}")
        at = layout.files(project, spec.id, step)
        options = workers.resolve(options, at.dir / layout.JUNIT, echo)
        started = disk.now()
        if options.shard:
            work = shards.fresh_dir(at, options.shard)
            try:
                session = _session(project, spec, suites, work, options, step, echo)
                return shards.finish(project, spec, session, started, options, span, echo)
            except BaseException:
                shutil.rmtree(work, ignore_errors=True)  # an unfinished shard must not be combined
                raise
        work = _workdir(at)
        per_test = run_contexts.wanted(spec, step, options.shard, options.pytest_args)
        stamp = run_contexts.tree_stamp(project) if per_test else None
        try:
            early = EarlyReports(project.root, work / "out", _step_numbers(spec, step))
            session = _session(project, spec, suites, work, options, step, echo, early, per_test)
            processes, logs = shards.processes_of(session), [session.log_file]
            with Jobs() as jobs:
                measured = measure_session(
                    project,
                    spec,
                    processes,
                    session.data_file,
                    work,
                    started,
                    options,
                    step,
                    jobs=jobs,
                    early=early.take(session.data_file),
                )
                if stamp is not None and measured.failure is None:  # for `harness mutate`
                    run_contexts.keep(project, spec, session.data_file, measured.outcomes, stamp)
                return publish(project, spec, inputs, measured, work, processes, logs, span, echo, jobs)
        finally:
            shutil.rmtree(work, ignore_errors=True)


def _session(
    project: Project,
    spec: ModuleSpec,
    suites,
    work: Path,
    options: RunOptions,
    step,
    echo,
    early=None,
    per_test: bool = False,
):
    """pytest over the suites (labelled by step in a module run, and by test with `per_test`); the
    report's libraries load meanwhile, and `early(data_file)` makes coverage.py's reports while the
    last pytest process exits."""
    warming = None if options.shard else prewarm.start()
    steps = spec.steps if step is None else ()  # per-step figures need each test's steps
    display = _display(options)
    session = run_session(
        project.root,
        suites,
        spec.source,
        work,
        options,
        echo,
        display,
        steps=steps,
        while_exiting=early,
        test_contexts=per_test,
    )
    if warming is not None:
        warming.join()  # before anything forks: a child must not start with a thread mid-import
    # Everything imported so far lives until the process ends: out of the collector's way, the
    # collections of the end of the run (and of the interpreter's exit) do not walk it again, and the
    # forked jobs do not copy it when they would.
    gc.freeze()
    return session


def measure_session(
    project: Project,
    spec: ModuleSpec,
    processes: list[dict],
    data_file: Path,
    work: Path,
    started: str,
    options: RunOptions,
    step: int | None,
    shards: int | None = None,
    jobs: Jobs | None = None,
    early: dict | None = None,
) -> Measured:
    """Outcomes, coverage figures (per step too) and, if the session broke, why.

    coverage.py's XML and HTML reports are written by a job of `jobs` (by then, without it), unless
    `early` is the JSON report `EarlyReports` made with them.
    """
    outcomes = read_records(tuple(Path(p["records"]) for p in processes))
    ran = outcomes.totals.passed + outcomes.totals.failed
    numbers = _step_numbers(spec, step)
    if early is None and jobs is not None and data_file.is_file():  # written while the figures are made
        jobs.start(coverage.write_artifacts, project.root, data_file, work / "out")
    report, problem = _coverage_report(project, spec, data_file, work, ran, numbers, early)
    if report is None and jobs is not None:
        jobs.cancel()  # no figures, so no XML or HTML either (and their job's error would be the same)
    elif report is not None and jobs is None and early is None:
        coverage.write_artifacts(project.root, data_file, work / "out")
    codes = [(p["exit_code"], p["error"]) for p in processes]
    failure = failure_reason(codes, outcomes.totals.counts(), problem)
    step_files = {}
    if report and not failure and spec.steps and step is None:
        step_files = coverage.step_figures(work / "out", list(numbers))
    return Measured(
        started_at=started,
        finished_at=disk.now(),
        commit=trace.git_commit(project.root),
        options=shard_files.options_dict(options),
        outcomes=outcomes,
        failure=failure,
        files=coverage.file_figures(report) if report else None,
        totals=coverage.totals(report) if report else None,
        branch=bool(report and report["meta"]["branch_coverage"]),
        step=step,
        shards=shards,
        step_files=step_files,
    )


def _step_numbers(spec: ModuleSpec, step: int | None) -> tuple[int, ...]:
    """The steps a run has per-step figures for: every step of a module run, none of a step's run."""
    return tuple(range(1, len(spec.steps) + 1)) if step is None else ()


class EarlyReports:
    """coverage.py's reports (JSON, each step's, XML, HTML), made while the last pytest process reports
    and exits, its coverage data saved (about a second for thousands of tests, otherwise spent waiting).

    `take` gives the JSON report only if the data file is still as it was then; otherwise, or if making
    them failed, the run makes them after pytest exits as it would without this (and reports why not).
    """

    def __init__(self, root: Path, out: Path, steps: tuple[int, ...]):
        self.root, self.out, self.steps = root, out, steps
        self.report: dict | None = None
        self.stamp: tuple | None = None

    def __call__(self, data_file: Path) -> None:
        stamp = _file_stamp(data_file)
        if stamp is None:
            return
        try:
            report = coverage.json_report(self.root, data_file, self.out, self.steps)
            coverage.write_artifacts(self.root, data_file, self.out)
        except Exception:  # made again after pytest exits, which reports any error
            return
        self.report, self.stamp = report, stamp

    def take(self, data_file: Path) -> dict | None:
        if self.report is None or _file_stamp(data_file) != self.stamp:
            return None
        return self.report


def _file_stamp(path: Path) -> tuple | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


def _coverage_report(
    project: Project, spec: ModuleSpec, data_file: Path, work: Path, ran: int, steps=(), early=None
):
    """coverage.py's JSON report (and each step's), or None and why it is missing or measured nothing.

    `early` is the report if it was already made (`EarlyReports`)."""
    source, tests = ", ".join(spec.source), f"{ran} test{'s' if ran != 1 else ''}"
    hint = (
        f"the code the tests ran is not the code under `{source}` (imported from another path, e.g. an"
        " installed copy?) or `source` names the wrong code"
    )
    if not data_file.is_file():
        return None, f"coverage.py recorded no data for `{source}` although {tests} ran: {hint}"
    try:
        report = early or coverage.json_report(project.root, data_file, work / "out", steps)
    except DataError as err:
        return None, f"coverage.py measured nothing under `{source}` ({err}): {hint}"
    if coverage.executed_nothing(report):
        return report, f"coverage.py measured no line under `{source}` although {tests} ran: {hint}"
    return report, None


def publish(
    project,
    spec,
    inputs: Inputs,
    measured: Measured,
    work: Path,
    processes,
    logs,
    span,
    echo: Echo,
    jobs: Jobs | None = None,
) -> dict:
    """Evaluate, assemble and write every output of a finished session; log its end.

    `jobs` write into the work directory (junit.xml; coverage.py's reports unless they were made
    early) and are all done before the outputs are written. The module's charts are drawn by jobs of
    their own, beside the report, while MAP.md and its chart are made; the command ends when they are.
    """
    at = layout.files(project, spec.id, measured.step)
    evaluation = evaluate_run(spec, inputs, measured)
    spec_link = Path(os.path.relpath(spec.path, at.dir)).as_posix()
    result = shape.assemble(spec, inputs, measured, evaluation, spec_link, spec.path.digest())
    finished = trace.finished(project, result, span.run)
    runs = [*history.read_runs(project.trace_path, spec.id, measured.step), history.run_from_event(finished)]
    records = [Path(p["records"]) for p in processes]
    if jobs is not None:
        jobs.start(junit.write, records, work / "out" / layout.JUNIT)
    else:
        junit.write(records, work / "out" / layout.JUNIT)
    with Jobs() if jobs is not None else contextlib.nullcontext() as drawing:
        result = outputs.draw_charts(at, result, runs, drawing)
        outputs.write_run(at, work / "out", result, logs, jobs.wait if jobs else lambda: None)
        span.end(finished)
        if not measured.step:
            outputs.refresh_map(project)
    echo(terminal.terminal_table(result))
    echo(f"Report: {project.relative(at.report)}")
    return result


def refresh_mutation(project: Project, spec: ModuleSpec, echo: Echo) -> None:
    """After `harness mutate`: the stored result's mutation scores, status, report and MAP.md row anew."""
    at = layout.files(project, spec.id)
    result = records.load_if_any(project, spec.id)
    if result is None or not result["files"]:
        return
    carried = carried_targets(result.get("carried_in", []))
    section = gating.assess(
        mutation_store.fresh_result(project, spec.id),
        list(result["files"]),
        lambda path: constraints(path, spec.targets, carried, spec.steps),
        spec.overall,
    )
    unmet = [k for k in result["unmet"] if not k.startswith(gating.UNMET_PREFIX)]
    unmet += section["unmet"] if section else []
    acceptance = latest_acceptance(project, spec.id)
    state = (
        "failed"
        if result["status"] == "failed"
        else status(None, result["tests"], unmet, acceptance["accepted"] if acceptance else None)
    )
    result = {
        **result,
        "status": state,
        "status_label": STATUS_LABELS[state],
        "unmet": unmet,
        "mutation": section,
        "acceptance": acceptance if state == "complete_with_variance" else None,
        "carry_forward": carry_forward_items(result["files"], result["overall"], spec.id)
        if state == "complete_with_variance"
        else [],
    }
    result = outputs.draw_charts(at, result, history.read_runs(project.trace_path, spec.id))
    with disk.project_lock(project.lock_path):
        outputs.write_report(at, result)
        outputs.write_result(at, result)
    outputs.refresh_map(project)
    echo(f"{project.relative(at.report)}: {STATUS_LABELS[state]} (mutation scores updated)")


def combine_module(project: Project, spec: ModuleSpec, echo: Echo) -> dict:
    """Merge the module's shards into one result, as an unsharded run would have produced."""
    done = shards.complete(project, spec)
    options = RunOptions(pytest_args=tuple(done[0].meta["options"]["pytest_args"]))
    inputs = prepare(project, spec, None, False, options, echo)
    with trace.run_span(project, spec, combine=len(done)) as span:
        work = _workdir(layout.files(project, spec.id))
        try:
            data = [s.dir / ".coverage" for s in done if (s.dir / ".coverage").is_file()]
            if data:
                roots = tuple(s.meta["root"] for s in done if s.meta.get("root"))
                coverage.combine(project.root, data, work / ".coverage", roots)
            echo(f"Combining {len(done)} shards of {spec.id}")
            processes = [p for s in done for p in s.processes]
            started = min(s.meta["started_at"] for s in done)
            logs = [s.dir / layout.LOG for s in done]
            with Jobs() as jobs:
                data_file, count = work / ".coverage", len(done)
                measured = measure_session(
                    project, spec, processes, data_file, work, started, options, None, count, jobs
                )
                result = publish(project, spec, inputs, measured, work, processes, logs, span, echo, jobs)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    shutil.rmtree(layout.files(project, spec.id).shards, ignore_errors=True)
    return result
