"""`harness mutate` and `harness combine --mutation`: run the mutants, mark equivalents, combine shards,
and store what they decide (mutation.json and mutation.html, its trace event, and the module's result
through publish)."""

from collections.abc import Callable
from pathlib import Path

from harness.errors import DataError, UsageError
from harness.evaluate import judged, targets
from harness.evaluate import mutation as gating
from harness.mutation.engine import Mutated, MutateOptions, mutate
from harness.mutation.selection import Timing
from harness.publish import publish
from harness.report import mutation_html, terminal
from harness.spec import git
from harness.spec.catalog import named_or_each
from harness.spec.model import ModuleSpec
from harness.spec.project import Project
from harness.store import disk, layout, shards, trace
from harness.store import mutation as stored
from harness.store.mutation_schema import thresholds

Echo = Callable[[str], None]


def options(
    files, workers, shard, fresh, verbose, factor: float | None, slack: float | None, plain: bool = False
) -> MutateOptions:
    """The command's options; the timeout's factor and slack default to `Timing`'s."""
    timing = Timing(Timing.factor if factor is None else factor, Timing.slack if slack is None else slack)
    return MutateOptions(tuple(files), workers, shard, fresh, verbose, timing, plain)


def run(project: Project, spec: ModuleSpec, options: MutateOptions, echo: Echo, cwd: Path) -> int:
    """`harness mutate MODULE`: the mutants run and stored; the exit status (a shard: 0)."""
    stored.load(layout.files(project, spec.id))  # the record this adds to: unreadable, stop before any work
    mutated = mutate(project, spec, options, echo, cwd)
    if options.shard:
        _store_shard(project, spec, options.shard, mutated, echo)
        return 0
    code = show(spec, finish(project, spec, mutated, echo), echo)
    refresh(project, spec, echo)
    return code


def finish(project: Project, spec: ModuleSpec, mutated: Mutated, echo: Echo) -> dict:
    """mutation.json and mutation.html with this run's files (the other files' stored mutants kept, with
    the digests and texts they were made from), and `mutation_finished` logged with the stored overall
    score."""
    at = layout.files(project, spec.id)
    with disk.locked(project):
        previous = stored.load(at)
        if previous is not None:  # a record written before texts were kept: those of unchanged files
            previous = stored.recover_texts(project, previous)
        all_files, mutants = stored.merge(previous, mutated.files, mutated.entries)
        meta = dict(mutated.meta)
        for key in ("sources", "texts"):
            known = {**(previous or {}).get(key, {}), **mutated.meta.get(key, {})}
            meta[key] = {f: known[f] for f in all_files if f in known}
        doc = stored.document(spec.id, all_files, mutants, **meta)
        _save(project, spec, doc)
        _log_scores(project, spec, doc, mutated.files)
    echo(f"Mutation result: {project.relative(at.mutation)} (to read: {project.relative(at.mutation_html)})")
    return doc


def _save(project: Project, spec: ModuleSpec, doc: dict) -> None:
    """mutation.json and, beside it, mutation.html of the same record (the caller holds the lock)."""
    at, limits = layout.files(project, spec.id), thresholds(spec)
    stored.save(at, doc, limits)
    disk.atomic_write(at.mutation_html, mutation_html.page(doc, limits))


def _log_scores(project: Project, spec: ModuleSpec, doc: dict, files: list[str]) -> None:
    scores = {f: doc["files"][f]["score"] for f in files if f in doc["files"]}
    total = stored.total(doc["files"])["score"]
    event = trace.MutationFinished(module=spec.id, commit=git.commit(project.root), files=scores, score=total)
    trace.append(project, event)


def refresh(project: Project, spec: ModuleSpec, echo: Echo) -> dict | None:
    """The module's stored result judged again with its current mutation scores (nothing when it has
    no stored result, or one without figures)."""

    def change(result: dict | None) -> dict | None:
        if result is None or not result["files"] or result.get("step"):
            return None
        return judged.again(project, spec, result)

    result = publish(project, spec, change)
    if result is not None:
        report = project.relative(layout.files(project, spec.id).report)
        echo(f"{report}: {result['status_label']} (mutation scores updated)")
    return result


def _store_shard(project: Project, spec: ModuleSpec, shard: tuple[int, int], mutated: Mutated, echo) -> None:
    index, count = shard
    at = layout.files(project, spec.id)
    data = {
        "module": spec.id,
        "shard": [index, count],
        "files": mutated.files,
        "order": mutated.order,
        **mutated.meta,
        "mutants": mutated.entries,
    }
    event = trace.MutationShardFinished(
        module=spec.id,
        commit=git.commit(project.root),
        shard=f"{index}/{count}",
        mutants=len(mutated.entries),
    )
    with disk.locked(project):
        stored.save_shard(at, index, count, data, thresholds(spec))
        trace.append(project, event)
    echo(
        f"Shard {index}/{count} stored in {project.relative(at.mutation_shard(index, count))};"
        f" run `harness combine {spec.id} --mutation` when all are done"
    )


def verdict(spec: ModuleSpec, doc: dict) -> dict:
    """The module's `mutation:` targets against a mutation result (files, total, unmet keys)."""
    return gating.evaluate(doc["files"], targets.rules_for(spec), spec.overall)


def show(spec: ModuleSpec, doc: dict, echo: Echo) -> int:
    """Print the per-file table, the survivors and the gating; 1 when a gating mutation target is missed."""
    checked = verdict(spec, doc)
    for line in terminal.mutation_lines(doc, checked, gating.survivors):
        echo(line)
    return 1 if checked["unmet"] else 0


def mark(project: Project, spec: ModuleSpec, ids: tuple[str, ...], rationale: str | None, echo: Echo) -> int:
    """Record survivors as equivalent in trace.yml and re-score mutation.json; they stay listed."""
    if not ids or not (rationale or "").strip():
        raise UsageError("--equivalent ID and --rationale TEXT go together")
    at = layout.files(project, spec.id)
    with disk.locked(project):
        doc = stored.load_required(at)
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
        commit = git.commit(project.root)
        marks = [
            trace.MutantEquivalent(
                module=spec.id,
                commit=commit,
                mutant=i,
                file=by_id[i]["file"],
                line=by_id[i]["line"],
                operator=by_id[i]["operator"],
                rationale=rationale,
            )
            for i in ids
        ]
        trace.append(project, *marks)
        doc = stored.mark_equivalent(doc, stored.equivalent_marks(project, spec.id))
        _save(project, spec, stored.recover_texts(project, doc))
        _log_scores(project, spec, doc, sorted({by_id[i]["file"] for i in ids}))
    echo(f"{spec.id}: {len(ids)} mutant(s) marked equivalent")
    show(spec, doc, echo)
    refresh(project, spec, echo)
    return 0


def combine(project: Project, module: str | None, echo: Echo) -> int:
    """`harness combine [MODULE] --mutation`: merge the mutation shards into one mutation.json."""
    specs = named_or_each(project, module, lambda m: layout.files(project, m).mutation_shards.is_dir())
    if not specs:
        raise UsageError("no module has mutation shards to combine")
    codes = []
    for spec in specs:
        codes.append(show(spec, combine_module(project, spec, echo), echo))
        refresh(project, spec, echo)
    return max(codes)


def combine_module(project: Project, spec: ModuleSpec, echo: Echo) -> dict:
    at = layout.files(project, spec.id)
    empty = f"no mutation shards of {spec.id}; run `harness mutate {spec.id} --shard K/N` first"
    paths = shards.complete_split(stored.shard_files(at), at.mutation_shards, empty, f"{spec.id}: mutation")
    parts = [stored.load_shard(path) for path in paths]
    if len({(tuple(s["files"]), tuple(s["order"])) for s in parts}) > 1:
        raise DataError(
            f"{at.mutation_shards}: the shards mutated different versions of the source; rerun them all"
        )
    count = len(parts)
    entries = {m["id"]: m for s in parts for m in s["mutants"]}
    meta = {
        "started_at": min(s["started_at"] for s in parts),
        "finished_at": max(s["finished_at"] for s in parts),
        "commit": parts[0]["commit"],
        "sources": parts[0]["sources"],
        "texts": parts[0].get("texts", {}),
    }
    echo(f"Combining {count} mutation shard(s) of {spec.id}")
    ordered = [entries[i] for i in parts[0]["order"]]
    return finish(project, spec, Mutated(parts[0]["files"], ordered, parts[0]["order"], meta), echo)
