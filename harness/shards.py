"""Shards: where `harness run --shard K/N` keeps its data, and which shards are complete for `combine`."""

import json
import shutil
from collections.abc import Callable
from pathlib import Path

from harness import store
from harness.errors import DataError
from harness.outputs import event
from harness.project import Project
from harness.runner import RunOptions, Session
from harness.spec import ModuleSpec


def shard_label(options: RunOptions) -> str:
    return f" shard {shard_text(options)}" if options.shard else ""


def shard_text(options: RunOptions) -> str | None:
    return f"{options.shard[0]}/{options.shard[1]}" if options.shard else None


def options_dict(options: RunOptions) -> dict:
    return {"workers": options.workers, "pytest_args": list(options.pytest_args)}


def shard_dir(project: Project, module_id: str, options: RunOptions) -> Path:
    index, count = options.shard
    path = project.module_dir(module_id) / ".work" / "shards" / f"{index}-of-{count}"
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def finish_shard(
    project: Project,
    spec: ModuleSpec,
    session: Session,
    started: str,
    options: RunOptions,
    echo: Callable[[str], None],
) -> None:
    meta = {
        "started_at": started,
        "finished_at": store.now(),
        "exit_codes": list(session.exit_codes),
        "shard": list(options.shard),
        "options": options_dict(options),
    }
    shard_dir = session.data_file.parent
    store.atomic_write(shard_dir / "shard.json", json.dumps(meta, indent=2) + "\n")
    store.append_events(
        project.trace_path,
        project.lock_path,
        [
            event(
                project,
                spec,
                "shard_finished",
                shard=shard_text(options),
                exit_codes=list(session.exit_codes),
            )
        ],
    )
    echo(
        f"Shard {shard_text(options)} stored in {project.relative(shard_dir)};"
        f" run `harness combine {spec.id}` when all are done"
    )
    return None


def complete_shards(project: Project, spec: ModuleSpec) -> list[Path]:
    root = project.module_dir(spec.id) / ".work" / "shards"
    dirs = sorted(d for d in root.glob("*-of-*") if (d / "shard.json").is_file()) if root.is_dir() else []
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
    return sorted(dirs, key=lambda d: int(d.name.split("-of-")[0]))
