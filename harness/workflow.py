"""What `run`, `combine`, `accept`, `report` and `list` do: look up the inputs, run the suites, measure,
evaluate, and publish (see docs/architecture.md, "The harness run pipeline")."""

import gc
import os
import shutil
from collections.abc import Callable
from pathlib import Path

from harness.errors import DataError, HarnessError, SpecError, UsageError
from harness.evaluate import shape
from harness.evaluate.evaluation import Inputs, acceptance_of, evaluate_run, revise
from harness.evaluate.status import carry_forward_items
from harness.measure import baseline, coverage, per_test
from harness.measure.session import EarlyReports, Measured, Session, measure
from harness.publish import Produced, publish
from harness.report import junit, markdown, terminal
from harness.run import prewarm, progress, workers
from harness.run.background import Jobs
from harness.run.session import RunOptions, run_session
from harness.run.span import RunSpan, run_span
from harness.spec import git
from harness.spec.catalog import all_specs, find_spec
from harness.spec.model import ModuleSpec
from harness.spec.preflight import check_spec
from harness.spec.project import Project
from harness.store import disk, layout, records, shards, trace
from harness.store import mutation as mutation_store

Echo = Callable[[str], None]
# What the end of a run imports, loaded while pytest runs: the drawing module pulls in matplotlib
# (about half a second), the others coverage.py's reporters.
WARM_MODULES = ("harness.report.plot", "coverage.jsonreport", "coverage.xmlreport", "coverage.html")


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
    at = layout.files(project, spec.id)
    return Inputs(
        carried=tuple(_carried_items(project, spec, files, echo)) if step is None else (),
        baseline=baseline.baseline_for(
            project, at, spec.baseline, spec.source, rebaseline, options, echo, str(spec.path)
        )
        if spec.baseline
        else None,
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
    with run_span(project, spec.id, step=step, shard=shard) as span:
        echo(f"Running {label}: {len(suites)} suite path(s), measuring {', '.join(spec.source)}")
        at = layout.files(project, spec.id, step)
        options = workers.resolve(options, at.junit, echo)
        started = disk.now()
        if options.shard:
            return _run_shard(project, spec, suites, at, options, started, span, echo)
        work = baseline.work_dir(at)
        per_test_wanted = per_test.wanted(spec, step, options.shard, options.pytest_args)
        stamp = per_test.tree_stamp(project) if per_test_wanted else None
        steps = _step_numbers(spec, step)
        try:
            early = EarlyReports(project.root, work / "out", steps)
            session = _session(project, spec, suites, work, options, step, echo, early, per_test_wanted)
            measuring = Session(
                project.root, _processes(session), session.data_file, work, spec.source, steps
            )
            with Jobs() as jobs:
                measured = measure(
                    measuring,
                    started,
                    options.as_dict(),
                    step,
                    jobs=jobs,
                    early=early.take(session.data_file),
                )
                if stamp is not None and measured.failure is None:  # for `harness mutate`
                    per_test.keep(project, spec.id, session.data_file, measured.outcomes, stamp)
                return _publish_run(
                    project, spec, inputs, measured, measuring, [session.log_file], span, echo, jobs
                )
        finally:
            shutil.rmtree(work, ignore_errors=True)


def _run_shard(project, spec, suites, at, options: RunOptions, started: str, span: RunSpan, echo) -> None:
    """A shard's session, kept under `.work/shards/` for `harness combine` (removed if it does not finish)."""
    work = shards.fresh_dir(at, options.shard)
    try:
        session = _session(project, spec, suites, work, options, at.step, echo)
        meta = {
            "root": str(project.root),  # where the data's absolute file names point: combine maps them
            "started_at": started,
            "finished_at": disk.now(),
            "shard": list(options.shard),
            "options": options.as_dict(),
            "processes": _processes(session),
        }
        shards.save(work, meta)
        span.end_as(trace.ShardFinished, exit_codes=tuple(session.exit_codes))
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)  # an unfinished shard must not be combined
        raise
    echo(
        f"Shard {shards.text(options.shard)} stored in {project.relative(work)};"
        f" run `harness combine {spec.id}` when all are done"
    )
    return None


def _processes(session) -> list[dict]:
    return [process.as_dict() for process in session.processes]


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
    warming = None if options.shard else prewarm.start(WARM_MODULES, markdown.compile_templates)
    steps = spec.steps if step is None else ()  # per-step figures need each test's steps
    display = progress.for_run(options.quiet, options.verbose)
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


def _step_numbers(spec: ModuleSpec, step: int | None) -> tuple[int, ...]:
    """The steps a run has per-step figures for: every step of a module run, none of a step's run."""
    return tuple(range(1, len(spec.steps) + 1)) if step is None else ()


def _publish_run(
    project: Project,
    spec: ModuleSpec,
    inputs: Inputs,
    measured: Measured,
    session: Session,
    logs: list[Path],
    span: RunSpan,
    echo: Echo,
    jobs: Jobs,
) -> dict:
    """Evaluate and publish a finished session: its result, reports, artifacts and `run_finished`.

    The acceptance and the mutation scores are read under the publish lock, so an acceptance or a
    mutation run that finished while the tests ran is not lost. junit.xml is written by a job.
    """
    at = layout.files(project, spec.id, measured.step)
    spec_link = Path(os.path.relpath(spec.path, at.dir)).as_posix()
    module_level = measured.step is None

    def change(stored: dict | None) -> dict:
        acceptance = acceptance_of(trace.read(project), spec.id) if module_level else None
        mutation_doc = mutation_store.fresh(project, spec.id) if module_level else None
        ev = evaluate_run(spec, inputs, measured, acceptance, mutation_doc)
        return shape.assemble(spec, inputs, measured, ev, spec_link, spec.path.digest())

    def log(result: dict) -> list[trace.Event]:
        return [trace.RunFinished.of_result(result, span.run, measured.commit)]

    records_files = [Path(p["records"]) for p in session.processes]
    jobs.start(junit.write, records_files, session.out / layout.JUNIT)
    produced = Produced(session.out, logs, jobs.wait)
    result = publish(project, spec, change, measured.step, produced, log, span, jobs)
    echo(terminal.terminal_table(result))
    echo(f"Report: {project.relative(at.report)}")
    return result


def combine_module(project: Project, spec: ModuleSpec, echo: Echo) -> dict:
    """Merge the module's shards into one result, as an unsharded run would have produced."""
    done = shards.complete(project, spec.id)
    options = RunOptions(pytest_args=tuple(done[0].meta["options"]["pytest_args"]))
    inputs = prepare(project, spec, None, False, options, echo)
    with run_span(project, spec.id, combine=len(done)) as span:
        work = baseline.work_dir(layout.files(project, spec.id))
        try:
            data = [s.data_file for s in done if s.data_file.is_file()]
            if data:
                roots = tuple(s.meta["root"] for s in done if s.meta.get("root"))
                coverage.combine(project.root, data, work / ".coverage", roots)
            echo(f"Combining {len(done)} shards of {spec.id}")
            processes = [p for s in done for p in s.processes]
            started = min(s.meta["started_at"] for s in done)
            measuring = Session(
                project.root, processes, work / ".coverage", work, spec.source, _step_numbers(spec, None)
            )
            with Jobs() as jobs:
                measured = measure(measuring, started, options.as_dict(), None, len(done), jobs)
                logs = [s.log for s in done]
                result = _publish_run(project, spec, inputs, measured, measuring, logs, span, echo, jobs)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    shards.drop(project, spec.id)
    return result


def combine_all(project: Project, module: str | None, echo: Echo) -> list[dict]:
    """`harness combine [MODULE]`: the named module's shards, or every module's that has shards."""
    if module:
        specs = [find_spec(project, module)]
    else:
        specs = [
            s for s in all_specs(project) if isinstance(s, ModuleSpec) and shards.has_shards(project, s.id)
        ]
        if not specs:
            raise DataError("no module has shards to combine")
    return [combine_module(project, spec, echo) for spec in specs]


def accept(project: Project, spec: ModuleSpec, rationale: str) -> dict:
    """Record the lead's decision to accept the module's unmet targets; they become carry-forward items."""
    if not rationale.strip():
        raise UsageError("--rationale must say why the variance is accepted")

    def change(stored: dict | None) -> dict:
        result = stored if stored is not None else records.load(layout.files(project, spec.id).result)
        if result["status"] == "failed":
            raise UsageError(
                f"{spec.id}: cannot accept a Failed result ({result['reason']}); fix the tests first"
            )
        if not result["unmet"]:
            raise UsageError(f"{spec.id}: every target is met; there is no variance to accept")
        items = carry_forward_items(result["files"], result["overall"], spec.id)
        commit = git.commit(project.root)
        accepted = trace.VarianceAccepted(
            module=spec.id,
            commit=commit,
            rationale=rationale.strip(),
            accepted=tuple(result["unmet"]),
            overall=result["overall"]["percent"],
        )
        kept = ("file", "percent", "target", "missing")
        carried = trace.CarryForwardCreated(
            module=spec.id, commit=commit, items=tuple({k: i[k] for k in kept} for i in items)
        )
        trace.append(project, accepted, carried)
        acceptance = acceptance_of(trace.read(project), spec.id)
        return shape.revise(result, revise(spec, result, acceptance, mutation_store.fresh(project, spec.id)))

    return publish(project, spec, change)


def rerender(project: Project, spec: ModuleSpec) -> dict:
    """`harness report`: the report, charts and MAP.md again from the stored result (results.json as is)."""

    def change(stored: dict | None) -> dict:
        return stored if stored is not None else records.load(layout.files(project, spec.id).result)

    return publish(project, spec, change, write_result=False)


def survey(project: Project) -> tuple[list[tuple[str, str, dict | None, bool]], list[HarnessError]]:
    """`harness list`: each module's id, title, stored result and whether its spec is invalid, and
    apart the errors of the specs that do not load or do not pass the pre-flight checks."""
    rows, broken = [], []
    found = all_specs(project)
    broken += [f for f in found if not isinstance(f, ModuleSpec)]
    for spec in (f for f in found if isinstance(f, ModuleSpec)):
        try:
            check_spec(project, spec)
        except HarnessError as err:
            broken.append(err)
            rows.append((spec.id, spec.title, None, True))
            continue
        at = layout.files(project, spec.id)
        rows.append((spec.id, spec.title, records.load(at.result) if at.result.is_file() else None, False))
    return rows, broken
