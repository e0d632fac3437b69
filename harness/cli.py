"""The `harness` command line: thin click commands that call into `harness.workflow` and set exit codes."""

import contextlib
import json
import os
import signal
from pathlib import Path

import click

from harness import __version__
from harness import init as first_spec
from harness.errors import HarnessError
from harness.evaluate import history, metric_history
from harness.evaluate.compare import compare
from harness.options import (
    changed_option,
    history_option,
    parse_shard,
    parse_workers,
    plan_of,
    repetition_options,
    repetitions_given,
)
from harness.report import gate, terminal
from harness.report import metrics as metric_text
from harness.report import patch as render_patch
from harness.run.session import RunOptions
from harness.spec.catalog import find_spec
from harness.spec.model import METRIC_STATS
from harness.spec.project import load_project
from harness.spec.requirements import check as check_requirements
from harness.store import disk, layout, records

PASSING = ("complete", "complete_with_variance")


class _Stop(click.ClickException):
    """A harness error at the edge: one line on stderr, exit status 2."""

    exit_code = 2


@contextlib.contextmanager
def _terminate_as_interrupt():
    """SIGTERM (a CI job cancelled, `kill`) ends a run the way Ctrl-C does: pytest stopped, event logged."""

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _echo(line: str) -> None:
    click.echo(line)


def _workflow():
    """The run machinery (pytest, coverage.py), imported only by the commands that run tests."""
    from harness import workflow

    return workflow


def _project(ctx: click.Context):
    return load_project(ctx.obj.get("root"))


def _exit_for(result: dict) -> int:
    return 0 if result["status"] in PASSING else 1


def _changed():
    """The `--changed` orchestration (imported only when the option is given)."""
    from harness import changed

    return changed


class _Group(click.Group):
    """The one edge where errors become the contract's one or two lines and exit status 2.

    Library errors (HarnessError), file errors (OSError) and click's usage errors (which would print
    usage text and a blank line) are all converted here, for every command.
    """

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except HarnessError as err:
            raise _Stop(str(err)) from err
        except OSError as err:
            raise _Stop(f"{err.filename or ''}: {err.strerror or err}".lstrip(": ")) from err
        except click.UsageError as err:
            if isinstance(err, _Stop) or err.ctx is None:
                raise
            raise _Stop(f"{err.format_message()}\nSee '{err.ctx.command_path} --help'.") from err


@click.group(cls=_Group)
@click.version_option(__version__, prog_name="harness")
@click.option(
    "--root",
    type=click.Path(file_okay=False, path_type=Path),
    help="Project root (default: the nearest directory upward with a pyproject.toml, setup.cfg, setup.py,"
    " pytest.ini, .pytest.ini, pytest.toml, .pytest.toml or tox.ini, else the git work tree's root).",
)
@click.pass_context
def main(ctx: click.Context, root: Path | None) -> None:
    """Run module-scoped test suites under coverage and report against per-file targets."""
    ctx.ensure_object(dict)
    ctx.obj["root"] = root


@main.command("list")
@click.pass_context
def list_cmd(ctx: click.Context) -> None:
    """The modules found, with their status from the last run; each spec gets `run`'s pre-flight checks."""
    project = _project(ctx)
    rows, broken = records.survey(project)
    for line in terminal.list_lines(rows) if rows else []:
        click.echo(line)
    if not rows and not broken:
        click.echo(f"no module specs found ({', '.join(project.spec_globs)})")
    for err in broken:
        click.echo(f"invalid spec: {err}", err=True)
    ctx.exit(2 if broken else 0)


@main.command("init")
@click.option("--id", "module_id", help="Module id (default: the project's name).")
@click.option("--source", "sources", multiple=True, help="Directory or package to measure (repeatable).")
@click.option("--suites", multiple=True, help="Test path to run (repeatable).")
@click.option(
    "-k", "k", metavar="EXPR", help="Run only the tests pytest's -k EXPR selects (kept in the spec)."
)
@click.option(
    "-m", "markers", metavar="MARKEXPR", help="Run only the tests pytest's -m selects (kept in the spec)."
)
@click.option(
    "--pyproject",
    "in_pyproject",
    is_flag=True,
    help="Write [tool.harness.modules.<id>] into pyproject.toml instead of suites/<id>/module.yml.",
)
@click.pass_context
def init_cmd(ctx, module_id, sources, suites, k, markers, in_pyproject) -> None:
    """Write a first module spec: find the packages and tests, measure once, targets at the figures floored.

    Without --source it looks for src/<pkg>/, then <pkg>/__init__.py, then top-level modules; without
    --suites it runs pytest's testpaths, else tests/ and test/. It never overwrites a spec.
    """
    project = _project(ctx)
    check_requirements(project.root)
    try:
        first_spec.init_project(project, module_id, sources, suites, in_pyproject, _echo, k, markers)
    except first_spec.MeasureFailed as err:
        click.echo(f"Error: {err}", err=True)
        ctx.exit(1)


@main.command(context_settings={"ignore_unknown_options": False})
@click.argument("module")
@click.option("--step", type=click.IntRange(min=1), help="Run only step N's suites against its targets.")
@click.option(
    "--workers",
    callback=parse_workers,
    metavar="N|auto",
    help="Run with pytest-xdist (the workers extra), N workers; auto: as many as the last run says pay off.",
)
@click.option("--shard", callback=parse_shard, metavar="K/N", help="Run the K-th of N deterministic slices.")
@click.option(
    "--rebaseline", is_flag=True, help="Measure baseline suites again instead of reusing baseline.json."
)
@repetition_options
@click.option("-v", "--verbose", is_flag=True, help="Stream pytest's output.")
@click.option("-q", "--quiet", is_flag=True, help="Print only the status line (and errors).")
@changed_option
@click.argument("pytest_args", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def run(
    ctx, module, step, workers, shard, rebaseline, verbose, quiet, changed, pytest_args, **repeated
) -> None:
    """Run MODULE's suites under coverage, write reports/<id>/, trace.yml and MAP.md.

    Arguments after `--` go to pytest unchanged (the baseline suites get them too). With --changed,
    only the tests the change affects run, and reports/<id>/patch.json and PATCH.md are written.
    """
    if shard and step:
        raise click.UsageError("--shard and --step cannot be combined")
    if quiet and verbose:
        raise click.UsageError("--quiet and --verbose cannot be combined")
    if shard and (repeated["repeat"] or 1) > 1:
        raise click.UsageError("--shard and --repeat cannot be combined (a shard runs its tests once)")
    project = _project(ctx)
    spec = find_spec(project, module)
    check_requirements(project.root, workers, tuple(pytest_args), reruns=spec.stability.reruns)
    options = RunOptions(workers, shard, tuple(pytest_args), verbose=verbose, quiet=quiet)
    echo = _silent if quiet else _echo
    if changed is not None:
        given = {"step": step, "shard": shard, "rebaseline": rebaseline, **repetitions_given(repeated)}
        _changed().refuse_with("runs the tests the change affects", **given, pytest_args=pytest_args)
        with _terminate_as_interrupt():
            outcome = _changed().run(project, spec, changed, options, echo)
        if quiet and outcome.doc is not None:
            click.echo(f"patch: {render_patch.headline(outcome.doc)}")
        ctx.exit(outcome.code)
    plan, history = plan_of(spec, **repeated), repeated["history"]
    with _terminate_as_interrupt():
        result = _workflow().run_module(
            project, spec, options, echo, step=step, rebaseline=rebaseline, plan=plan, history=history
        )
    if quiet and result is not None:
        click.echo(terminal.status_line(result))
    ctx.exit(0 if result is None else _exit_for(result))


def _silent(line: str) -> None:
    pass


@main.command()
@click.argument("module")
@click.option("--run", "fresh", is_flag=True, help="Run the module first instead of reading the last result.")
@repetition_options
@click.option(
    "--annotations/--no-annotations",
    default=None,
    help="Print GitHub Actions annotations for files below target (default: on under GitHub Actions).",
)
@click.option(
    "--comment",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write a Markdown summary for a pull-request comment to this file.",
)
@changed_option
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    help="With --run: pytest-xdist workers for the tests, and workers for the patch's mutants.",
)
@click.pass_context
def check(ctx, module, fresh, annotations, comment, changed, workers, **repeated) -> None:
    """CI gate: every file below its target, with figure and target, and what made the module Unstable;
    exit 1 if a gating target is missed or stability findings block (as the spec's `stability:` says).

    With --changed, also the change's own figures against the spec's `patch:` targets (exit 1 when the
    gate fails); with --run, only the tests the change affects run, then the patch's mutants.
    """
    project = _project(ctx)
    spec = find_spec(project, module)
    if not fresh and any(repetitions_given(repeated).values()):
        raise click.UsageError("--repeat, --shuffle, --seed and --history go with --run")
    doc = None
    if fresh:
        check_requirements(project.root, workers, reruns=spec.stability.reruns)
    if changed is not None:
        _changed().refuse_with("runs the tests the change affects", **repetitions_given(repeated))
        with _terminate_as_interrupt():
            outcome = _changed().check(project, spec, changed, fresh, workers, _echo)
        result, doc, code = outcome.result, outcome.doc, outcome.code
    elif fresh:
        plan, history = plan_of(spec, **repeated), repeated["history"]
        options = RunOptions(workers=workers)
        result = _workflow().run_module(project, spec, options, _echo, plan=plan, history=history)
        code = _exit_for(result)
    else:
        result = records.load_module(project, spec.id)
        code = _exit_for(result)
    if result is not None and not fresh and records.spec_changed(result, spec):
        click.echo(
            f"warning: {spec.path} changed after this result was recorded"
            f" ({result['finished_at']}); `harness check --run` measures again",
            err=True,
        )
    _gate_output(result, doc, annotations, comment)
    ctx.exit(code)


def _gate_output(result: dict | None, doc: dict | None, annotations: bool | None, comment: Path | None):
    """`check`'s lines, annotations, step summary and comment: the module's (when it has a result)
    and the change's (with --changed)."""
    for line in gate.lines(result, doc):
        click.echo(line)
    if annotations if annotations is not None else os.environ.get("GITHUB_ACTIONS") == "true":
        for line in gate.annotations(result, doc):
            click.echo(line)
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        disk.append_text(Path(summary), gate.summary(result, doc) + "\n")
    if comment:
        disk.atomic_write(comment, gate.summary(result, doc))


@main.command()
@click.argument("module")
@click.pass_context
def report(ctx, module) -> None:
    """Render COMPLETION_STATUS.md and MAP.md again from the stored result, without running tests."""
    project = _project(ctx)
    spec = find_spec(project, module)
    result = _workflow().rerender(project, spec)
    click.echo(terminal.report_line(project.relative(layout.files(project, spec.id).report), result))


@main.command()
@click.argument("module")
@click.option("--rationale", required=True, help="Why the lead accepts the variance.")
@click.pass_context
def accept(ctx, module, rationale) -> None:
    """Accept MODULE with documented variance; its unmet targets become carry-forward items."""
    project = _project(ctx)
    spec = find_spec(project, module)
    result = _workflow().accept(project, spec, rationale)
    for line in terminal.accept_lines(spec.id, result):
        click.echo(line)


@main.command()
@click.argument("a")
@click.argument("b")
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON.")
@click.pass_context
def diff(ctx, a, b, as_json) -> None:
    """Per-file comparison of two stored results (module ids, spec paths or results.json paths)."""
    project = _project(ctx)
    comparison = compare(records.load_any(project, a), records.load_any(project, b))
    if as_json:
        click.echo(json.dumps(comparison, indent=2))
        return
    click.echo(terminal.diff_table(comparison, (a, b)))


@main.command()
@click.argument("module", required=False)
@click.option("--mutation", "mutants", is_flag=True, help="Merge `harness mutate --shard` results instead.")
@history_option
@click.pass_context
def combine(ctx, module, mutants, history) -> None:
    """Merge the shards of MODULE (default: every module with shards) into one result."""
    project = _project(ctx)
    if mutants:
        from harness import mutate  # libcst and mutmut: only for mutation

        ctx.exit(mutate.combine(project, module, _echo))
    ctx.exit(max(_exit_for(result) for result in _workflow().combine_all(project, module, _echo, history)))


@main.command("history")
@click.argument("module")
@click.option("--step", type=click.IntRange(min=1), help="Step N's runs instead of the module's.")
@click.option("--file", "file", metavar="PATH", help="One file's figure instead of the overall.")
@click.option("--metric", metavar="NAME", help="A figure the tests recorded instead of coverage.")
@click.option("--stat", type=click.Choice(METRIC_STATS), help="With --metric: one statistic and its Δ.")
@click.option("--limit", type=click.IntRange(min=1), help="Only the last N runs.")
@click.option("--json", "as_json", is_flag=True, help="Print the runs as JSON.")
@click.pass_context
def history_cmd(ctx, module, step, file, metric, stat, limit, as_json) -> None:
    """MODULE's finished runs from trace.yml: date, commit, status, tests, coverage and Δ (or a metric)."""
    project = _project(ctx)
    if metric is not None:
        if file is not None:
            raise click.UsageError("--metric and --file show different figures; give one of them")
        figures = metric_history.select(project, module, metric, stat, step, limit)
        click.echo(
            metric_history.json_text(figures)
            if as_json
            else metric_text.history_table(figures, project.trace_file)
        )
        return
    if stat is not None:
        raise click.UsageError("--stat is a statistic of a metric: give --metric NAME too")
    shown = history.select(project, module, step, file, limit)
    click.echo(history.json_text(shown) if as_json else terminal.history_table(shown, project.trace_file))


@main.command("site")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where to build it (default: reports/site/); only a directory harness built is replaced.",
)
@click.pass_context
def site_cmd(ctx, out) -> None:
    """Build a static HTML site of the stored record: every module, trends, reports; relative links only."""
    path, count = _workflow().build_site(_project(ctx), out)
    click.echo(f"{path / layout.SITE_INDEX}: {count} module(s)")


@main.command()
@click.argument("module")
@click.option(
    "--file", "files", multiple=True, metavar="PATH", help="Mutate only this measured file (repeatable)."
)
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True, help="Parallel workers.")
@click.option("--shard", callback=parse_shard, metavar="K/N", help="Run the K-th of N slices of the mutants.")
@click.option(
    "--fresh",
    is_flag=True,
    help="Run every mutant again, ignoring stored verdicts and the last run's record of tests per line.",
)
@click.option(
    "--timeout-factor",
    type=click.FloatRange(min=1),
    help="A mutant may take this many times its tests' time.",
)
@click.option("--timeout-slack", type=click.FloatRange(min=0), help="Plus this many seconds.")
@click.option("--equivalent", "equivalent", multiple=True, metavar="ID", help="Mark a mutant equivalent.")
@click.option("--rationale", help="Why the --equivalent mutants cannot be told apart from the original.")
@click.option("--plain", is_flag=True, help="Run every mutant as its own python -m pytest (the reference).")
@click.option("-v", "--verbose", is_flag=True, help="A line per mutant.")
@changed_option
@click.pass_context
def mutate(
    ctx,
    module,
    files,
    workers,
    shard,
    fresh,
    timeout_factor,
    timeout_slack,
    equivalent,
    rationale,
    plain,
    verbose,
    changed,
):
    """Mutation testing of MODULE's source with its suites; writes reports/<id>/mutation.json and .html.

    With --equivalent ID --rationale TEXT, marks survivors equivalent instead of running. With
    --changed, only the mutants on changed lines: patch.json instead of mutation.json.
    """
    from harness import mutate as mutation  # libcst and mutmut: only for this command

    project = _project(ctx)
    spec = find_spec(project, module)
    if equivalent or rationale is not None:
        if changed is not None:
            _changed().refuse_with("makes the mutants of the change", equivalent=True)
        ctx.exit(mutation.mark(project, spec, equivalent, rationale, _echo))
    check_requirements(project.root, mutation=True)
    options = mutation.options(files, workers, shard, fresh, verbose, timeout_factor, timeout_slack, plain)
    if changed is not None:
        _changed().refuse_with("makes the mutants of the change", shard=shard)
        with _terminate_as_interrupt():
            ctx.exit(_changed().mutate(project, spec, changed, options, _echo, Path.cwd()).code)
    with _terminate_as_interrupt():
        ctx.exit(mutation.run(project, spec, options, _echo, Path.cwd()))
