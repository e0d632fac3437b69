"""Shards on disk: what `harness run --shard K/N` keeps under `.work/shards/`, and what `combine` reads.

`complete_split` is the one check that the shards of a split are all there, for runs and for mutants.
"""

import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from harness.errors import DataError
from harness.spec.project import Project
from harness.store import disk, layout

T = TypeVar("T")


@dataclass(frozen=True)
class StoredShard:
    """A finished shard: its directory and its `shard.json` record."""

    dir: Path
    meta: dict

    @property
    def processes(self) -> list[dict]:
        return self._located(self.meta["processes"])

    @property
    def repetitions(self) -> list[list[dict]]:
        """The processes of each repetition of the shard's tests that record a repeated metric."""
        return [self._located(processes) for processes in self.meta.get("repetitions", [])]

    def _located(self, processes: list[dict]) -> list[dict]:
        # Records files are stored relative to the shard's directory.
        return [{**p, "records": str(self.dir / p["records"])} for p in processes]

    @property
    def data_file(self) -> Path:
        return self.dir / ".coverage"

    @property
    def log(self) -> Path:
        return self.dir / layout.LOG


def repetitions(done: list[StoredShard]) -> tuple[tuple[dict, ...], ...]:
    """The processes of each repetition of a combined run: repetition i of every shard that has one
    (a shard none of whose tests recorded a repeated metric has none)."""
    count = max((len(shard.repetitions) for shard in done), default=0)
    return tuple(
        tuple(p for shard in done if i < len(shard.repetitions) for p in shard.repetitions[i])
        for i in range(count)
    )


def text(shard: tuple[int, int] | None) -> str | None:
    return f"{shard[0]}/{shard[1]}" if shard else None


def fresh_dir(at: layout.ModuleFiles, shard: tuple[int, int]) -> Path:
    path = at.shard(*shard)
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def save(shard_dir: Path, meta: dict) -> None:
    """Write the shard's record, which makes it complete (records files are kept in its directory)."""

    def relative(processes: list[dict]) -> list[dict]:
        return [{**p, "records": Path(p["records"]).relative_to(shard_dir).as_posix()} for p in processes]

    repetitions = [relative(processes) for processes in meta.get("repetitions", [])]
    record = {**meta, "processes": relative(meta["processes"]), "repetitions": repetitions}
    disk.write_json(shard_dir / layout.SHARD_RECORD, record)


def complete_split(
    found: Iterable[tuple[tuple[int, int], T]], where: Path, empty: str, label: str
) -> list[T]:
    """The items of one split, ordered by shard index, when every shard of it is there. Otherwise a
    DataError: `empty` when there are none, the mixed splits, or the shards `label` has not finished.
    `found` pairs each (index, count) with its item."""
    found = list(found)
    if not found:
        raise DataError(f"{where}: {empty}")
    counts = sorted({count for (_, count), _ in found})
    if len(counts) > 1:
        splits = ", ".join(map(str, counts))
        raise DataError(f"{where}: shards of different splits ({splits}); rerun them with one N")
    count = counts[0]
    missing = sorted(set(range(1, count + 1)) - {index for (index, _), _ in found})
    if missing:
        raise DataError(f"{label} shard(s) {', '.join(f'{k}/{count}' for k in missing)} not finished yet")
    return [item for _, item in sorted(found, key=lambda pair: pair[0][0])]


def complete(project: Project, module_id: str) -> list[StoredShard]:
    """Every shard of one split, all finished; a DataError naming what is missing otherwise."""
    root = layout.files(project, module_id).shards
    found = []
    for folder in sorted(root.iterdir()) if root.is_dir() else ():
        split = layout.split_of(folder.name)
        if split and (folder / layout.SHARD_RECORD).is_file():
            found.append((split, folder))
    empty = f"no finished shards of {module_id}; run `harness run {module_id} --shard K/N` first"
    folders = complete_split(found, root, empty, f"{module_id}:")
    return [StoredShard(d, disk.read_json(d / layout.SHARD_RECORD, "shard record")) for d in folders]


def has_shards(project: Project, module_id: str) -> bool:
    return layout.files(project, module_id).shards.is_dir()


def drop(project: Project, module_id: str) -> None:
    """Remove a module's stored shards once they are combined."""
    shutil.rmtree(layout.files(project, module_id).shards, ignore_errors=True)
