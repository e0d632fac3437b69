"""Shards on disk: what `harness run --shard K/N` keeps under `.work/shards/`, and what `combine` reads."""

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from harness.errors import DataError
from harness.run.session import RunOptions, Session
from harness.spec.model import ModuleSpec
from harness.spec.project import Project
from harness.store import disk, layout, records, trace


@dataclass(frozen=True)
class StoredShard:
    """A finished shard: its directory and its `shard.json` record."""

    dir: Path
    meta: dict

    @property
    def processes(self) -> list[dict]:
        # Records files are stored by name, beside the record.
        return [{**p, "records": str(self.dir / p["records"])} for p in self.meta["processes"]]


def text(shard: tuple[int, int] | None) -> str | None:
    return f"{shard[0]}/{shard[1]}" if shard else None


def options_dict(options: RunOptions) -> dict:
    return {"workers": options.workers, "pytest_args": list(options.pytest_args)}


def processes_of(session: Session) -> list[dict]:
    """Each pytest process of a session as plain data (what combine needs of it, by file name)."""
    return [
        {
            "paths": list(p.invocation.paths),
            "k": p.invocation.k,
            "markers": p.invocation.markers,
            "exit_code": p.exit_code,
            "error": p.error,
            "records": str(p.records),
        }
        for p in session.processes
    ]


def fresh_dir(at: layout.ModuleFiles, shard: tuple[int, int]) -> Path:
    path = at.shard(*shard)
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def finish(
    project: Project,
    spec: ModuleSpec,
    session: Session,
    started: str,
    options: RunOptions,
    span: trace.RunSpan,
    echo: Callable[[str], None],
) -> None:
    """Write the shard's record (which makes it complete) and log its end."""
    shard_dir = session.data_file.parent
    meta = {
        "root": str(project.root),  # where the data's absolute file names point: combine maps them
        "started_at": started,
        "finished_at": disk.now(),
        "shard": list(options.shard),
        "options": options_dict(options),
        "processes": [{**p, "records": Path(p["records"]).name} for p in processes_of(session)],
    }
    disk.atomic_write(shard_dir / layout.SHARD_RECORD, json.dumps(meta, indent=2) + "\n")
    span.end_as("shard_finished", exit_codes=list(session.exit_codes))
    echo(
        f"Shard {text(options.shard)} stored in {project.relative(shard_dir)};"
        f" run `harness combine {spec.id}` when all are done"
    )


def complete(project: Project, spec: ModuleSpec) -> list[StoredShard]:
    """Every shard of one split, all finished; a DataError naming what is missing otherwise."""
    root = layout.files(project, spec.id).shards
    dirs = [d for d in root.glob("*-of-*") if (d / layout.SHARD_RECORD).is_file()] if root.is_dir() else []
    if not dirs:
        raise DataError(
            f"{root}: no finished shards of {spec.id}; run `harness run {spec.id} --shard K/N` first"
        )
    counts = {d.name.split("-of-")[1] for d in dirs}
    if len(counts) > 1:
        raise DataError(
            f"{root}: shards of different splits ({', '.join(sorted(counts))}); rerun them with one N"
        )
    count = int(counts.pop())
    have = {int(d.name.split("-of-")[0]) for d in dirs}
    missing = sorted(set(range(1, count + 1)) - have)
    if missing:
        raise DataError(f"{spec.id}: shard(s) {', '.join(f'{k}/{count}' for k in missing)} not finished yet")
    dirs.sort(key=lambda d: int(d.name.split("-of-")[0]))
    return [StoredShard(d, records.read_json(d / layout.SHARD_RECORD, "shard record")) for d in dirs]
