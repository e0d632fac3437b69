"""The `harness mutate` command, `harness combine --mutation`, and marking mutants equivalent."""

import contextlib
import functools
import signal
from pathlib import Path

import click

from harness import targets
from harness.catalog import all_specs, find_spec
from harness.errors import DataError, HarnessError, UsageError
from harness.mutation import gating, record, stored
from harness.mutation.engine import MutateOptions, finish
from harness.mutation.engine import mutate as run_mutants
from harness.mutation.selection import Timing
from harness.project import Project, load_project
from harness.spec import ModuleSpec

SHOWN_SURVIVORS = 20
COLUMNS = ("Mutants", "Killed", "Survived", "Timeout", "NoTests", "Equiv.")


class _Stop(click.ClickException):
    exit_code = 2


def _edge(func):
    """Library errors as one line and exit status 2 (as the other commands do)."""

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
    """SIGTERM stops the run as Ctrl-C does: every worker's pytest killed, the copies removed."""

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _shard(ctx, param, value):
    if value is None:
        return None
    try:
        index, count = (int(v) for v in value.split("/"))
    except ValueError:
        raise click.BadParameter("expected K/N, e.g. 2/4") from None
    if not 1 <= index <= count:
        raise click.BadParameter(f"K must be between 1 and N, got {value}")
    return index, count


@click.command()
@click.argument("module")
@click.option(
    "--file", "files", multiple=True, metavar="PATH", help="Mutate only this measured file (repeatable)."
)
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True, help="Parallel workers.")
@click.option("--shard", callback=_shard, metavar="K/N", help="Run the K-th of N slices of the mutants.")
@click.option("--fresh", is_flag=True, help="Run every mutant again, ignoring stored verdicts.")
@click.option("--timeout-factor", type=click.FloatRange(min=1), default=Timing.factor, show_default=True)
@click.option("--timeout-slack", type=click.FloatRange(min=0), default=Timing.slack, show_default=True)
@click.option("--equivalent", "equivalent", multiple=True, metavar="ID", help="Mark a mutant equivalent.")
@click.option("--rationale", help="Why the --equivalent mutants cannot be told apart from the original.")
@click.option("-v", "--verbose", is_flag=True, help="A line per mutant.")
@click.pass_context
@_edge
def mutate(
    ctx, module, files, workers, shard, fresh, timeout_factor, timeout_slack, equivalent, rationale, verbose
):
    """Mutation testing of MODULE's source with its suites; writes reports/<id>/mutation.json."""
    project = load_project((ctx.obj or {}).get("root"))
    spec = find_spec(project, module)
    if equivalent or rationale is not None:
        ctx.exit(mark(project, spec, equivalent, rationale))
    timing = Timing(timeout_factor, timeout_slack)
    options = MutateOptions(tuple(files), workers, shard, fresh, verbose, timing)
    with _terminate_as_interrupt():
        doc = run_mutants(project, spec, options, click.echo, Path.cwd())
    ctx.exit(0 if shard else show(spec, doc))


def show(spec: ModuleSpec, doc: dict) -> int:
    """Print the per-file table, the survivors and the gating; 1 when a gating mutation target is missed."""
    verdict = gating.evaluate(
        doc["files"], lambda path: targets.constraints(path, spec.targets, (), spec.steps), spec.overall
    )
    width = max([len(f) for f in doc["files"]] + [5])
    click.echo(f"  {'File':<{width}} Mutants Killed Survived Timeout NoTests Equiv.   Score  Target")
    rows = [*doc["files"].items(), ("Total", record.total(doc["files"]))]
    for path, row in rows:
        check = verdict["overall"] if path == "Total" else verdict["files"][path]
        counts = " ".join(f"{row[k]:>{len(h)}}" for k, h in zip(record.COUNTS, COLUMNS, strict=True))
        click.echo(f"  {path:<{width}} {counts} {_pct(row['score']):>7} {_target(check)}")
    survivors = [s | {"file": f} for f in doc["files"] for s in gating.survivors(doc, f)]
    for s in survivors[:SHOWN_SURVIVORS]:
        where = f" in {s['function']}" if s["function"] else ""
        change = f"{s['before']} -> {s['after'] or '(removed)'}"
        click.echo(f"  survived {s['file']}:{s['line']} {s['operator']}{where}: {change}  [{s['id']}]")
    if len(survivors) > SHOWN_SURVIVORS:
        click.echo(f"  … {len(survivors) - SHOWN_SURVIVORS} more survivor(s) in mutation.json")
    for key in verdict["unmet"]:
        check = verdict["overall"] if key == "overall" else verdict["files"][key]
        click.echo(f"{key}: mutation score {_pct(check['score'])} < target {check['target']:g}%")
    return 1 if verdict["unmet"] else 0


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}%"


def _target(check: dict) -> str:
    if check["target"] is None:
        return ""
    state = (
        "ok"
        if check["gating_met"] and check["met"] is not False
        else ("warn" if check["gating_met"] else "short")
    )
    return f"{check['target']:>5g}%  {state}"


def mark(project: Project, spec: ModuleSpec, ids: tuple[str, ...], rationale: str | None) -> int:
    """Record survivors as equivalent in trace.yml and re-score mutation.json; they stay listed."""
    if not ids or not (rationale or "").strip():
        raise UsageError("--equivalent ID and --rationale TEXT go together")
    doc = stored.load_result(project, spec.id)
    by_id = {m["id"]: m for m in doc["mutants"]}
    for mutant_id in ids:
        found = by_id.get(mutant_id)
        if found is None:
            raise UsageError(f"{spec.id}: no mutant {mutant_id} in the last mutation result")
        if found["status"] in ("killed", "timeout"):
            raise UsageError(
                f"{spec.id}: mutant {mutant_id} was {found['status']}:"
                " a test tells it apart, so it is not equivalent"
            )
    events = [
        stored.event(
            project,
            spec.id,
            stored.EQUIVALENT_EVENT,
            mutant=i,
            file=by_id[i]["file"],
            line=by_id[i]["line"],
            operator=by_id[i]["operator"],
            rationale=rationale,
        )
        for i in ids
    ]
    stored.log_events(project, events)
    doc = record.mark_equivalent(doc, stored.equivalent_marks(project, spec.id))
    stored.write_json(project, stored.result_path(project, spec.id), doc)
    click.echo(f"{spec.id}: {len(ids)} mutant(s) marked equivalent")
    show(spec, doc)
    return 0


def combine(project: Project, module: str | None, echo) -> int:
    """`harness combine [MODULE] --mutation`: merge the mutation shards into one mutation.json."""
    if module:
        specs = [find_spec(project, module)]
    else:
        specs = [
            s
            for s in all_specs(project)
            if isinstance(s, ModuleSpec) and stored.shard_dir(project, s.id).is_dir()
        ]
        if not specs:
            raise UsageError("no module has mutation shards to combine")
    return max(show(spec, combine_module(project, spec, echo)) for spec in specs)


def combine_module(project: Project, spec: ModuleSpec, echo) -> dict:
    folder = stored.shard_dir(project, spec.id)
    shards = [stored.read_json(p, "mutation shard") for p in sorted(folder.glob("*-of-*.json"))]
    if not shards:
        raise DataError(
            f"{folder}: no mutation shards of {spec.id}; run `harness mutate {spec.id} --shard K/N` first"
        )
    counts = {s["shard"][1] for s in shards}
    if len(counts) > 1:
        splits = ", ".join(map(str, sorted(counts)))
        raise DataError(f"{folder}: shards of different splits ({splits}); rerun them with one N")
    if len({(tuple(s["files"]), tuple(s["order"])) for s in shards}) > 1:
        raise DataError(f"{folder}: the shards mutated different versions of the source; rerun them all")
    count = counts.pop()
    missing = sorted(set(range(1, count + 1)) - {s["shard"][0] for s in shards})
    if missing:
        raise DataError(
            f"{spec.id}: mutation shard(s) {', '.join(f'{k}/{count}' for k in missing)} not finished yet"
        )
    entries = {m["id"]: m for s in shards for m in s["mutants"]}
    meta = {
        "started_at": min(s["started_at"] for s in shards),
        "finished_at": max(s["finished_at"] for s in shards),
        "commit": shards[0]["commit"],
        "sources": shards[0]["sources"],
    }
    echo(f"Combining {count} mutation shard(s) of {spec.id}")
    return finish(project, spec, shards[0]["files"], [entries[i] for i in shards[0]["order"]], meta, echo)
