"""What `run`, `combine`, `accept`, `report` and `list` do: look up the inputs, run the suites, measure,
evaluate, and publish (see docs/architecture.md, "The harness run pipeline")."""

import gc
import os
import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from harness import repeat
from harness.errors import DataError, HarnessError, SpecError, UsageError
from harness.evaluate import shape
from harness.evaluate.evaluation import Inputs, acceptance_of, evaluate_run, revise
from harness.evaluate.status import carry_forward_items
from harness.measure import baseline, coverage, per_test
from harness.measure.session import EarlyReports, Measured, Session, measure
from harness.measure.source_state import source_state
from harness.publish import Produced, publish
from harness.report import junit, markdown, terminal
from harness.report import stability as stability_report
from harness.run import prewarm, progress, workers
from harness.run.background import Jobs
from harness.run.order import order_env
from harness.run.session import RunOptions, run_session
from harness.run.span import RunSpan, run_span
from harness.spec import git
from harness.spec.catalog import all_specs, find_spec
from harness.spec.model import ModuleSpec
from harness.spec.preflight import check_spec
from harness.spec.project import Project
from harness.store import disk, layout, outcome_log, records, shards, trace
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
    plan: repeat.Plan | None = None,
    history: tuple[Path, ...] = (),
) -> dict | None:
    """Run the module (or one step, or one shard); returns the result, or None for a shard.

    `plan` says how often and in which order the tests run (default: the spec's `stability:`);
    `history` names other machines' outcome logs, read beside the module's own."""
    plan = plan or repeat.Plan(spec.stability.repeat, spec.stability.shuffle)
    if options.shard and plan.count > 1:
        echo(f"Note: a shard runs its tests once; {plan.count} repetitions are for whole runs")
        plan = repeat.Plan(1, plan.shuffle, plan.seed)
    options = replace(options, reruns=spec.stability.reruns)  # the spec's: the same for every run
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
        state = source_state(project.root, own=(project.reports_dir, *layout.own_files(project)))
        if options.shard:
            order = order_env(seed=plan.seed_of(1))
            return _run_shard(project, spec, suites, at, options, started, span, echo, state, order)
        run = (plan, state, started, span, history)
        return _run_whole(project, spec, suites, step, inputs, options, run, echo)


def _run_whole(project, spec, suites, step, inputs: Inputs, options: RunOptions, run: tuple, echo) -> dict:
    """A module's (or step's) run: its sessions (`plan.count` repetitions), measured and published."""
    plan, state, started, span, history = run
    at = layout.files(project, spec.id, step)
    work = baseline.work_dir(at)
    per_test_wanted = per_test.wanted(spec, step, options.shard, options.pytest_args)
    stamp = per_test.tree_stamp(project) if per_test_wanted else None
    steps = _step_numbers(spec, step)
    try:
        early = EarlyReports(project.root, work / "out", steps) if plan.count == 1 else None

        def run_one(number: int, workdir: Path, order: dict, exiting):
            contexts = per_test_wanted and number == 1  # `harness mutate` needs one repetition's
            exiting = exiting or early
            return _session(project, spec, suites, workdir, options, step, echo, exiting, contexts, order)

        ran = repeat.run(project.root, work, plan, state, run_one, steps, options.pytest_args, echo)
        measuring = Session(project.root, _processes(ran.session), ran.data_file, work, spec.source, steps)
        with Jobs() as jobs:
            early_report = early.take(ran.data_file) if early else None
            measured = measure(
                measuring,
                started,
                options.as_dict(),
                step,
                jobs=jobs,
                early=early_report,
                repeated=ran.repeated,
            )
            if stamp is not None and measured.failure is None:  # for `harness mutate`
                per_test.keep(project, spec.id, ran.contexts_data, measured.outcomes, stamp)
            logs = list(ran.logs)
            return _publish_run(project, spec, inputs, measured, measuring, logs, span, echo, jobs, history)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _run_shard(
    project, spec, suites, at, options: RunOptions, started: str, span: RunSpan, echo, state, order
):
    """A shard's session, kept under `.work/shards/` for `harness combine` (removed if it does not finish)."""
    work = shards.fresh_dir(at, options.shard)
    try:
        session = _session(project, spec, suites, work, options, at.step, echo, order=order)
        meta = {
            "state": state,  # the source state it ran at: `combine` records the merged run's outcomes at it
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
    order: dict | None = None,
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
        extra_env=order,
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
    history: tuple[Path, ...] = (),
) -> dict:
    """Evaluate and publish a finished session: its result, reports, artifacts, `run_finished` and its
    line in the outcome log.

    The acceptance, the mutation scores and the outcome log are read under the publish lock, so an
    acceptance, a mutation run or another run that finished while the tests ran is not lost. `history`
    names other machines' outcome logs, read beside the module's. junit.xml is written by a job.
    """
    at = layout.files(project, spec.id, measured.step)
    spec_link = Path(os.path.relpath(spec.path, at.dir)).as_posix()
    module_level = measured.step is None
    record = repeat.outcome_record(measured, span.run)

    def change(stored: dict | None) -> dict:
        acceptance = acceptance_of(trace.read(project), spec.id) if module_level else None
        mutation_doc = mutation_store.fresh(project, spec.id) if module_level else None
        logged = [*outcome_log.read([at.outcomes, *history]), *([record] if record else [])]
        ev = evaluate_run(spec, inputs, measured, acceptance, mutation_doc, logged)
        return shape.assemble(spec, inputs, measured, ev, spec_link, spec.path.digest())

    def log(result: dict) -> list[trace.Event]:
        return [trace.RunFinished.of_result(result, span.run, measured.commit)]

    records_files = [Path(p["records"]) for p in session.processes]
    jobs.start(junit.write, records_files, session.out / layout.JUNIT)
    produced = Produced(session.out, logs, jobs.wait)
    result = publish(project, spec, change, measured.step, produced, log, span, jobs, outcomes=record)
    _echo_result(project, at, result, echo)
    return result


def _echo_result(project: Project, at: layout.ModuleFiles, result: dict, echo: Echo) -> None:
    """The table and status, what the repetitions found, and where the report is."""
    echo(terminal.terminal_table(result))
    for line in stability_report.terminal_lines(result["stability"]) if result.get("stability") else ():
        echo(line)
    echo(f"Report: {project.relative(at.report)}")


def combine_module(project: Project, spec: ModuleSpec, echo: Echo, history: tuple[Path, ...] = ()) -> dict:
    """Merge the module's shards into one result, as an unsharded run would have produced: one line in the
    outcome log too, of every shard's tests (a test runs in one shard only), at the first shard's state."""
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
            tested = repeat.of_shards([s.meta.get("state") for s in done], processes, echo)
            with Jobs() as jobs:
                measured = measure(
                    measuring, started, options.as_dict(), None, len(done), jobs, repeated=tested
                )
                logs = [s.log for s in done]
                result = _publish_run(
                    project, spec, inputs, measured, measuring, logs, span, echo, jobs, history
                )
        finally:
            shutil.rmtree(work, ignore_errors=True)
    shards.drop(project, spec.id)
    return result


def combine_all(
    project: Project, module: str | None, echo: Echo, history: tuple[Path, ...] = ()
) -> list[dict]:
    """`harness combine [MODULE]`: the named module's shards, or every module's that has shards."""
    if module:
        specs = [find_spec(project, module)]
    else:
        specs = [
            s for s in all_specs(project) if isinstance(s, ModuleSpec) and shards.has_shards(project, s.id)
        ]
        if not specs:
            raise DataError("no module has shards to combine")
    return [combine_module(project, spec, echo, history) for spec in specs]


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
