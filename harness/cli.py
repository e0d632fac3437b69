"""The `harness` command line: thin click commands that call into `harness.workflow` and set exit codes."""

import contextlib
import functools
import json
import os
import signal
from pathlib import Path

import click

from harness import __version__, acceptance, outputs, render, results, targets, workflow
from harness.catalog import all_specs, find_spec
from harness.errors import HarnessError
from harness.mutation import command as mutation
from harness.project import load_project
from harness.runner import RunOptions
from harness.spec import ModuleSpec

PASSING = ("complete", "complete_with_variance")


class _Stop(click.ClickException):
    """A harness error at the edge: one line on stderr, exit status 2."""

    exit_code = 2


def _edge(func):
    """Turn library errors into one-line messages with exit status 2."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except HarnessError as err:
            raise _Stop(str(err)) from err
        except OSError as err:
            raise _Stop(f"{err.filename or ''}: {err.strerror or err}".lstrip(": ")) from err

    return wrapper


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


def _project(ctx: click.Context):
    return load_project(ctx.obj.get("root"))


def _exit_for(result: dict) -> int:
    return 0 if result["status"] in PASSING else 1


def _parse_shard(ctx, param, value):
    if value is None:
        return None
    try:
        index, count = (int(v) for v in value.split("/"))
    except ValueError:
        raise click.BadParameter("expected K/N, e.g. 2/4") from None
    if not 1 <= index <= count:
        raise click.BadParameter(f"K must be between 1 and N, got {value}")
    return index, count


class _Group(click.Group):
    """Keeps usage errors to the contract's one or two lines (click prints usage text and a blank line)."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except click.UsageError as err:
            if isinstance(err, _Stop) or err.ctx is None:
                raise
            raise _Stop(f"{err.format_message()}\nSee '{err.ctx.command_path} --help'.") from err


@click.group(cls=_Group)
@click.version_option(__version__, prog_name="harness")
@click.option(
    "--root",
    type=click.Path(file_okay=False, path_type=Path),
    help="Project root (default: nearest directory upward with a pyproject.toml).",
)
@click.pass_context
def main(ctx: click.Context, root: Path | None) -> None:
    """Run module-scoped test suites under coverage and report against per-file targets."""
    ctx.ensure_object(dict)
    ctx.obj["root"] = root


@main.command("list")
@click.pass_context
@_edge
def list_cmd(ctx: click.Context) -> None:
    """The modules found, with their status from the last run."""
    project = _project(ctx)
    found = all_specs(project)
    broken = [f for f in found if not isinstance(f, ModuleSpec)]
    for spec in (f for f in found if isinstance(f, ModuleSpec)):
        path = results.result_dir(project, spec.id) / "results.json"
        summary = "not run yet"
        if path.is_file():
            r = results.load(path)
            summary = (
                f"{r['status_label']}  {render.pct(r['overall']['percent'])}  {render.day(r['finished_at'])}"
            )
        click.echo(f"{spec.id:<16} {summary:<48} {spec.title}")
    if not found:
        click.echo(f"no module specs found ({', '.join(project.spec_globs)})")
    for err in broken:
        click.echo(f"invalid spec: {err}", err=True)
    ctx.exit(2 if broken else 0)


@main.command(context_settings={"ignore_unknown_options": False})
@click.argument("module")
@click.option("--step", type=click.IntRange(min=1), help="Run only step N's suites against its targets.")
@click.option("--workers", type=click.IntRange(min=1), help="Run with pytest-xdist, N workers.")
@click.option("--shard", callback=_parse_shard, metavar="K/N", help="Run the K-th of N deterministic slices.")
@click.option(
    "--rebaseline", is_flag=True, help="Measure baseline suites again instead of reusing baseline.json."
)
@click.option("-v", "--verbose", is_flag=True, help="Stream pytest's output.")
@click.argument("pytest_args", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
@_edge
def run(ctx, module, step, workers, shard, rebaseline, verbose, pytest_args) -> None:
    """Run MODULE's suites under coverage, write reports/<id>/, trace.yml and MAP.md.

    Arguments after `--` go to pytest unchanged.
    """
    if shard and step:
        raise click.UsageError("--shard and --step cannot be combined")
    project = _project(ctx)
    spec = find_spec(project, module)
    options = RunOptions(workers=workers, shard=shard, pytest_args=tuple(pytest_args), verbose=verbose)
    with _terminate_as_interrupt():
        result = workflow.run_module(project, spec, options, _echo, step=step, rebaseline=rebaseline)
    ctx.exit(0 if result is None else _exit_for(result))


@main.command()
@click.argument("module")
@click.option("--run", "fresh", is_flag=True, help="Run the module first instead of reading the last result.")
@click.pass_context
@_edge
def check(ctx, module, fresh) -> None:
    """CI gate: every file below its target, with figure and target; exit 1 if a gating target is missed."""
    project = _project(ctx)
    spec = find_spec(project, module)
    if fresh:
        result = workflow.run_module(project, spec, RunOptions(), _echo)
    else:
        result = results.load_module(project, spec.id)
        if result.get("spec_sha256") not in (None, workflow.spec_digest(spec)):
            click.echo(
                f"warning: {spec.path} changed after this result was recorded"
                f" ({result['finished_at']}); `harness check --run` measures again",
                err=True,
            )
    _print_shortfalls(result)
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as handle:
            handle.write(render.github_summary(result) + "\n")
    ctx.exit(_exit_for(result))


def _print_shortfalls(result: dict) -> None:
    accepted = (result.get("acceptance") or {}).get("accepted", [])
    for key, entry in render.short_files(result):
        for c in (c for c in entry["checks"] if not c["met"]):
            for s in c["short"]:
                note = (
                    " (warn only)" if c["warn_only"] else (" (accepted variance)" if key in accepted else "")
                )
                metric = "" if s["metric"] == "percent" else f" {s['metric']}"
                click.echo(
                    f"{key}:{metric} {render.pct(s['figure'], 2)}"
                    f" < target {render.target_pct(s['target'])}{note}"
                )
    line = f"{result['module']}: {targets.STATUS_LABELS[result['status']]}"
    click.echo(line + (f" ({result['reason']})" if result.get("reason") else ""))


@main.command()
@click.argument("module")
@click.pass_context
@_edge
def report(ctx, module) -> None:
    """Render COMPLETION_STATUS.md and MAP.md again from the stored result, without running tests."""
    project = _project(ctx)
    spec = find_spec(project, module)
    result = outputs.rerender(project, spec)
    click.echo(
        f"{project.relative(results.result_dir(project, spec.id) / 'COMPLETION_STATUS.md')}: "
        f"{result['status_label']}"
    )


@main.command()
@click.argument("module")
@click.option("--rationale", required=True, help="Why the lead accepts the variance.")
@click.pass_context
@_edge
def accept(ctx, module, rationale) -> None:
    """Accept MODULE with documented variance; its unmet targets become carry-forward items."""
    project = _project(ctx)
    spec = find_spec(project, module)
    result = acceptance.accept_module(project, spec, rationale)
    click.echo(f"{spec.id}: {result['status_label']}; {len(result['carry_forward'])} carry-forward item(s):")
    for item in result["carry_forward"]:
        click.echo(f"  {item['file']}: {render.pct(item['percent'])} -> target {render.goal_item(item)}")


@main.command()
@click.argument("a")
@click.argument("b")
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON.")
@click.pass_context
@_edge
def diff(ctx, a, b, as_json) -> None:
    """Per-file comparison of two stored results (module ids, spec paths or results.json paths)."""
    project = _project(ctx)
    comparison = targets.compare(workflow.load_any(project, a), workflow.load_any(project, b))
    if as_json:
        click.echo(json.dumps(comparison, indent=2))
        return
    rows = [*comparison["files"].items(), ("Overall", comparison["overall"])]
    width = max(len(p) for p, _ in rows)
    click.echo(f"{'File':<{width}}  {comparison['a']:>12}  {comparison['b']:>12}  {'Δ':>7}")
    for path, row in rows:
        click.echo(
            f"{path:<{width}}  {render.pct(row['a']):>12}  {render.pct(row['b']):>12}"
            f"  {render.delta(row['delta']):>7}"
        )


@main.command()
@click.argument("module", required=False)
@click.option("--mutation", "mutants", is_flag=True, help="Merge `harness mutate --shard` results instead.")
@click.pass_context
@_edge
def combine(ctx, module, mutants) -> None:
    """Merge the shards of MODULE (default: every module with shards) into one result."""
    project = _project(ctx)
    if mutants:
        ctx.exit(mutation.combine(project, module, _echo))
    if module:
        specs = [find_spec(project, module)]
    else:
        specs = [
            s
            for s in all_specs(project)
            if isinstance(s, ModuleSpec) and (project.module_dir(s.id) / ".work" / "shards").is_dir()
        ]
        if not specs:
            raise HarnessError("no module has shards to combine")
    codes = [_exit_for(workflow.combine_module(project, spec, _echo)) for spec in specs]
    ctx.exit(max(codes))


main.add_command(mutation.mutate)
