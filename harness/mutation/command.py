"""What `harness mutate` and `harness combine --mutation` do: run, mark equivalents, combine, show."""

from pathlib import Path

from harness.errors import DataError, UsageError
from harness.evaluate import mutation as gating
from harness.evaluate import targets
from harness.mutation import record
from harness.mutation.engine import MutateOptions, finish
from harness.mutation.engine import mutate as run_mutants
from harness.mutation.selection import Timing
from harness.report import terminal
from harness.spec.catalog import all_specs, find_spec
from harness.spec.model import ModuleSpec
from harness.spec.project import Project
from harness.store import mutation as stored


def options(
    files, workers, shard, fresh, verbose, factor: float | None, slack: float | None, plain: bool = False
) -> MutateOptions:
    """The command's options; the timeout's factor and slack default to `Timing`'s."""
    timing = Timing(Timing.factor if factor is None else factor, Timing.slack if slack is None else slack)
    return MutateOptions(tuple(files), workers, shard, fresh, verbose, timing, plain)


def run(project: Project, spec: ModuleSpec, options: MutateOptions, echo, cwd: Path) -> dict:
    """`harness mutate MODULE`: the mutants run and mutation.json written (or a shard's file)."""
    return run_mutants(project, spec, options, echo, cwd)


def verdict(spec: ModuleSpec, doc: dict) -> dict:
    """The module's `mutation:` targets against a mutation result (files, total, unmet keys)."""
    return gating.evaluate(
        doc["files"], lambda path: targets.constraints(path, spec.targets, (), spec.steps), spec.overall
    )


def show(spec: ModuleSpec, doc: dict, echo) -> int:
    """Print the per-file table, the survivors and the gating; 1 when a gating mutation target is missed."""
    checked = verdict(spec, doc)
    for line in terminal.mutation_lines(doc, checked, gating.survivors):
        echo(line)
    return 1 if checked["unmet"] else 0


def mark(project: Project, spec: ModuleSpec, ids: tuple[str, ...], rationale: str | None, echo) -> int:
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
    echo(f"{spec.id}: {len(ids)} mutant(s) marked equivalent")
    show(spec, doc, echo)
    return 0


def combine(project: Project, module: str | None, echo) -> tuple[int, list[ModuleSpec]]:
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
    return max(show(spec, combine_module(project, spec, echo), echo) for spec in specs), specs


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
