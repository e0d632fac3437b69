"""What `run`, `combine`, `accept`, `report` and `site` do: the stages called in order (look up the
inputs, run the suites, measure, evaluate) and their result published (see docs/architecture.md, "The
harness run pipeline")."""

import gc
import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from harness import repetitions
from harness.errors import DataError, UsageError
from harness.evaluate import history, judged
from harness.measure import baseline, per_test
from harness.measure.inputs import Inputs
from harness.measure.inputs import prepare as inputs_for
from harness.measure.session import EarlyReports, Measured, Session, measure
from harness.measure.source_state import of_project as source_state_now
from harness.publish import Produced, publish
from harness.report import junit, markdown, site, terminal
from harness.report import stability as stability_report
from harness.run import prewarm, progress, workers
from harness.run.background import Jobs
from harness.run.order import order_env
from harness.run.session import RunOptions, run_session
from harness.run.span import RunSpan, run_span
from harness.spec import git
from harness.spec.catalog import all_specs, named_or_each
from harness.spec.model import ModuleSpec
from harness.spec.project import Project
from harness.store import disk, layout, records, shards, trace
from harness.store import site as site_store
from harness.store.mutation_schema import DEFAULT_THRESHOLDS, thresholds

Echo = Callable[[str], None]
# What the end of a run imports, loaded while pytest runs: the drawing module pulls in matplotlib
# (about half a second), the others coverage.py's reporters.
WARM_MODULES = ("harness.report.plot", "coverage.jsonreport", "coverage.xmlreport", "coverage.html")


def run_module(
    project: Project,
    spec: ModuleSpec,
    options: RunOptions,
    echo: Echo,
    step: int | None = None,
    rebaseline: bool = False,
    plan: repetitions.Plan | None = None,
    history: tuple[Path, ...] = (),
) -> dict | None:
    """Run the module (or one step, or one shard); returns the result, or None for a shard.

    `plan` says how often and in which order the tests run (default: the spec's `stability:`);
    `history` names other machines' outcome logs, read beside the module's own."""
    plan = plan or repetitions.Plan(spec.stability.repeat, spec.stability.shuffle)
    if options.shard and plan.count > 1:
        echo(f"Note: a shard runs its tests once; {plan.count} repetitions are for whole runs")
        plan = repetitions.Plan(1, plan.shuffle, plan.seed)
    options = replace(options, reruns=spec.stability.reruns)  # the spec's: the same for every run
    inputs = inputs_for(project, spec, step, rebaseline, options, echo)
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
        state = source_state_now(project)
        if options.shard:
            order = order_env(seed=plan.seed_of(1))
            return _run_shard(project, spec, suites, at, options, started, span, echo, state, order)
        run = (plan, state, started, span, history)
        return _run_whole(project, spec, suites, step, inputs, options, run, echo)


def _run_whole(project, spec, suites, step, inputs: Inputs, options: RunOptions, run: tuple, echo) -> dict:
    """A module's (or step's) run: its sessions (`plan.count` repetitions, then the rounds a repeated
    metric asks for beyond them), measured and published."""
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

        ran = repetitions.run(project.root, work, plan, state, run_one, steps, options.pytest_args, echo)
        earlier = tuple(tuple(s.process_dicts()) for s in ran.sessions[:-1])
        more = _rounds(project, spec, step, ran.sessions, work, options, echo)
        measuring = Session(
            project.root, ran.session.process_dicts(), ran.data_file, work, spec.source, steps, earlier, more
        )
        with Jobs() as jobs:
            early_report = early.take(ran.data_file) if early else None
            figures = {"jobs": jobs, "early": early_report, "repeated": ran.repeated}
            measured = measure(measuring, started, options.as_dict(), step, **figures)
            if stamp is not None and measured.failure is None:  # for `harness mutate`, `--changed`
                origin = per_test.Origin.of_run(project, spec, measured.files or {})
                per_test.keep(project, spec.id, ran.contexts_data, measured.outcomes, stamp, origin)
            logs = list(ran.logs)
            return _publish_run(project, spec, inputs, measured, measuring, logs, span, echo, jobs, history)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _run_shard(
    project, spec, suites, at, options: RunOptions, started: str, span: RunSpan, echo, state, order
) -> None:
    """A shard's session, kept under `.work/shards/` for `harness combine` (removed if it does not finish)."""
    work = shards.fresh_dir(at, options.shard)
    try:
        session = _session(project, spec, suites, work, options, at.step, echo, order=order)
        more = _rounds(project, spec, at.step, (session,), work, options, echo)
        meta = {
            "root": str(project.root),  # where the data's absolute file names point: combine maps them
            "started_at": started,
            "finished_at": disk.now(),
            "shard": list(options.shard),
            "options": options.as_dict(),
            "processes": session.process_dicts(),
            "repetitions": [list(processes) for processes in more],  # its rounds: `shards.repetitions`
            "state": state,  # the source state it ran at: `combine` records the merged run's outcomes at it
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


def _rounds(project: Project, spec: ModuleSpec, step, sessions, work: Path, options, echo: Echo):
    """The rounds the metrics judged on K repetitions ask for: a step's own targets, or the module's and
    every step's."""
    own, steps = (spec.steps[step - 1].metrics, ()) if step else (spec.metrics, spec.steps)
    return repetitions.rounds(project.root, own, steps, sessions, spec.source, work, options, echo)


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
    line in the outcome log. The acceptance, the mutation scores and the outcome log (with `history`,
    other machines' logs) are read under the publish lock, so an acceptance, a mutation run or another
    run that finished while the tests ran is not lost. junit.xml is written by a job."""
    at = layout.files(project, spec.id, measured.step)
    record = repetitions.outcome_record(measured, span.run)

    def change(stored: dict | None) -> dict:
        return judged.run_result(project, spec, inputs, measured, history, record)

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
    inputs = inputs_for(project, spec, None, False, options, echo)
    with run_span(project, spec.id, combine=len(done)) as span:
        work = baseline.work_dir(layout.files(project, spec.id))
        try:
            measuring = Session.of_shards(project.root, done, work, spec.source, _step_numbers(spec, None))
            echo(f"Combining {len(done)} shards of {spec.id}")
            started = min(s.meta["started_at"] for s in done)
            tested = repetitions.of_shards([s.meta.get("state") for s in done], measuring.processes, echo)
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
    specs = named_or_each(project, module, lambda m: shards.has_shards(project, m))
    if not specs:
        raise DataError("no module has shards to combine")
    return [combine_module(project, spec, echo, history) for spec in specs]


def accept(project: Project, spec: ModuleSpec, rationale: str) -> dict:
    """Record the lead's decision to accept the module's unmet targets; they become carry-forward items."""
    if not rationale.strip():
        raise UsageError("--rationale must say why the variance is accepted")

    def change(stored: dict | None) -> dict:
        result = stored if stored is not None else records.load(layout.files(project, spec.id).result)
        trace.append(project, *judged.acceptance(spec.id, result, rationale, git.commit(project.root)))
        return judged.again(project, spec, result)

    return publish(project, spec, change)


def rerender(project: Project, spec: ModuleSpec) -> dict:
    """`harness report`: the report, charts and MAP.md again from the stored result (results.json as is)."""

    def change(stored: dict | None) -> dict:
        return stored if stored is not None else records.load(layout.files(project, spec.id).result)

    return publish(project, spec, change, write_result=False)


def build_site(project: Project, out: Path | None = None) -> tuple[Path, int]:
    """`harness site`: the site of every module's stored record, built into `out` (default reports/site/)
    and swapped in whole; the site's path and how many modules it shows. Modules with a spec come first
    (in catalog order), then those with only a stored result."""
    dest = (out or layout.site(project)).resolve()
    site_store.check_replaceable(dest)
    with disk.locked(project):
        specs = {s.id: s for s in all_specs(project) if isinstance(s, ModuleSpec)}
        order = [*specs, *(m for m in site_store.module_ids(project, skip=dest) if m not in specs)]
        runs = history.read_histories(project, order)
        modules = [_site_module(m, specs.get(m), site_store.stored(project, m), runs[m]) for m in order]
        chart = layout.map_chart(project)
        built = site.build(modules, chart if chart.is_file() else None, f"{project.root.name}: test record")
        site_store.write(built.pages, built.copies, dest)
    return dest, len(modules)


def _site_module(module_id: str, spec: ModuleSpec | None, found: site_store.Stored, runs):
    title = spec.title if spec else (found.result or {}).get("title") or module_id
    limits = thresholds(spec) if spec else DEFAULT_THRESHOLDS
    return site.ModuleRecord(
        module_id, title, found.result, tuple(runs), found.reports, found.files, found.mutation, limits
    )
