"""What `run`, `combine`, `accept`, `report` and `list` do: look up the inputs, run the suites, measure,
evaluate, and publish (see docs/architecture.md, "The harness run pipeline")."""

import gc
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from harness import repetitions
from harness.errors import DataError, HarnessError, SpecError, UsageError
from harness.evaluate import history, shape
from harness.evaluate import metrics as metric_targets
from harness.evaluate.evaluation import Inputs, acceptance_of, evaluate_run, revise
from harness.evaluate.status import carry_forward_items
from harness.measure import baseline, coverage, metrics, per_test
from harness.measure.affected import Selection
from harness.measure.session import EarlyReports, Measured, Session, measure
from harness.measure.source_state import source_state
from harness.publish import Produced, publish
from harness.report import junit, markdown, site, terminal
from harness.report import stability as stability_report
from harness.run import prewarm, progress, rounds, workers
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
from harness.store import site as site_store
from harness.store.mutation_schema import DEFAULT_THRESHOLDS, thresholds

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
    if step is None:
        mutation_store.load(at)  # read again when the result is published; unreadable: stop before the tests
    carried, carried_metrics = _carried_items(project, spec, files, echo) if step is None else ([], [])
    return Inputs(
        carried=tuple(carried),
        baseline=baseline.baseline_for(
            project, at, spec.baseline, spec.source, rebaseline, options, echo, str(spec.path)
        )
        if spec.baseline
        else None,
        carried_metrics=tuple(carried_metrics),
    )


def _carried_items(project: Project, spec: ModuleSpec, files: list[str], echo: Echo):
    """The carry-forward items of the module named by `carry_forward.from`: coverage's, and apart its
    metric targets' (from its `metrics` section)."""
    if not spec.carry_forward_from:
        return [], []
    source = records.load_module(project, spec.carry_forward_from, "carry_forward.from")
    items = source.get("carry_forward", [])
    figures = (source.get("metrics") or {}).get("carry_forward") or []
    if not items and not figures:
        echo(
            f"Note: {spec.carry_forward_from} has no carry-forward items (it was not accepted with variance)"
        )
    for item in items:
        if item["file"] != "overall" and item["file"] not in files:
            raise SpecError(
                f"{spec.path}: carry_forward.from: item '{item['file']}' of "
                f"{spec.carry_forward_from} is not under this module's source"
            )
    return items, figures


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
        earlier = tuple(tuple(_processes(s)) for s in ran.sessions[:-1])
        more = _rounds(project, spec, step, ran.sessions, work, options, echo)
        measuring = Session(
            project.root, _processes(ran.session), ran.data_file, work, spec.source, steps, earlier, more
        )
        with Jobs() as jobs:
            early_report = early.take(ran.data_file) if early else None
            figures = {"jobs": jobs, "early": early_report, "repeated": ran.repeated}
            measured = measure(measuring, started, options.as_dict(), step, **figures)
            if stamp is not None and measured.failure is None:  # for `harness mutate`, `--changed`
                origin = _origin(project, spec, measured)
                per_test.keep(project, spec.id, ran.contexts_data, measured.outcomes, stamp, origin)
            logs = list(ran.logs)
            return _publish_run(project, spec, inputs, measured, measuring, logs, span, echo, jobs, history)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _origin(project: Project, spec: ModuleSpec, measured: Measured) -> per_test.Origin:
    """What the whole run's record keeps for `harness run --changed` besides which test ran which line."""
    suites = tuple(dict.fromkeys(suite.path for suite in spec.all_suites()))
    return per_test.Origin(tuple(check_spec(project, spec)), spec.path.digest(), suites, measured.files or {})


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
        measuring = Session(project.root, _processes(session), session.data_file, work, spec.source)
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
            "processes": _processes(session),
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


def _processes(session) -> list[dict]:
    return [process.as_dict() for process in session.processes]


def _rounds(project: Project, spec: ModuleSpec, step, sessions, work: Path, options, echo: Echo):
    """`repeat: K`: the test files that recorded a metric judged on K repetitions run as many more times
    as K asks beyond the run's own repetitions (`sessions`: one, or N with `--repeat N`); round i runs
    only those of metrics with K >= i. Each round's processes count the samples of the tests that
    recorded in the run itself (a shard's own, though a round runs whole files)."""
    own, steps = (spec.steps[step - 1].metrics, ()) if step else (spec.metrics, spec.steps)
    wanted = metric_targets.repeats(own, steps)
    processes = _processes(sessions[-1])
    if not wanted or any(p["exit_code"] not in (0, 1, 5) for p in processes):
        return ()
    first = len(sessions) + 1
    rounds_of = [
        metrics.files_recording(processes, [name for name, k in wanted.items() if k >= number])
        for number in range(first, max(wanted.values()) + 1)
    ]
    if not rounds_of or not rounds_of[0]:
        return ()
    names = ", ".join(sorted(wanted))
    echo(f"Repeating {len(rounds_of[0])} test file(s) up to {len(rounds_of)} more time(s) for {names}")
    counted = metrics.tests_recording(processes, wanted)
    log = sessions[-1].log_file
    done = rounds.again(project.root, rounds_of, first, spec.source, work, options, echo, steps, log)
    return tuple(tuple({**p, "counted": counted} for p in _processes(s)) for s in done)


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
    spec_link = Path(os.path.relpath(spec.path, at.dir)).as_posix()
    module_level = measured.step is None
    record = repetitions.outcome_record(measured, span.run)

    def change(stored: dict | None) -> dict:
        acceptance = acceptance_of(trace.read(project), spec.id) if module_level else None
        mutation_doc = mutation_store.fresh(project, spec.id) if module_level else None
        logged = [*outcome_log.read([at.outcomes, *history]), *([record] if record else [])]
        ev = evaluate_run(spec, inputs, measured, acceptance, mutation_doc, logged)
        result = shape.assemble(spec, inputs, measured, ev, spec_link, spec.path.digest())
        return shape.mutation_artifacts(result, mutation_store.stored_files(at)) if module_level else result

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
            steps, more = _step_numbers(spec, None), shards.repetitions(done)
            measuring = Session(
                project.root, processes, work / ".coverage", work, spec.source, steps, rounds=more
            )
            tested = repetitions.of_shards([s.meta.get("state") for s in done], processes, echo)
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
        figures = metric_targets.carry_forward_items(result.get("metrics"), spec.id)
        metric_kept = ("metric", "stat", "final", "unit", "bounds")
        logged = [{k: i[k] for k in kept} for i in items] + [{k: i[k] for k in metric_kept} for i in figures]
        carried = trace.CarryForwardCreated(module=spec.id, commit=commit, items=tuple(logged))
        trace.append(project, accepted, carried)
        acceptance = acceptance_of(trace.read(project), spec.id)
        mutation_doc = mutation_store.fresh(project, spec.id)
        revised = shape.revise(result, revise(spec, result, acceptance, mutation_doc))
        return shape.mutation_artifacts(revised, mutation_store.stored_files(layout.files(project, spec.id)))

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
