"""Test order: a seeded shuffle that a recorded seed replays, and an explicit order of node ids to replay.

The harness's pytest plugin applies both (`harness.run.plugin`), driven by `$HARNESS_SHUFFLE_SEED` and
`$HARNESS_ORDER`; this module holds what they mean, so that the harness and the plugin cannot disagree.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

from harness.errors import UsageError
from harness.run.env import ORDER_ENV, SHUFFLE_ENV
from harness.spec.nodeids import split_nodeid

T = TypeVar("T")

SEED_BITS = 32


def new_seed() -> int:
    """A fresh seed for one repetition's shuffle, recorded so that the repetition can be replayed."""
    return random.SystemRandom().getrandbits(SEED_BITS)


def _key(seed: int, name: str) -> int:
    return zlib.crc32(f"{seed}::{name}".encode())


def shuffled(items: Sequence[T], seed: int, nodeid: Callable[[T], str] = lambda item: item.nodeid) -> list[T]:
    """`items` in the order `seed` gives them: files shuffled, classes within a file, tests within a class.

    The order depends on the seed and the node ids only, never on the order the items came in (another
    plugin may have reordered them already), so a recorded seed gives the same order on any machine.
    Tests of one class, and of one file, stay together, as they do in pytest's own order: a module- or
    class-scoped fixture is still set up once.
    """
    groups: dict[str, dict[str, list[T]]] = {}
    for item in items:
        file, cls = split_nodeid(nodeid(item))
        groups.setdefault(file, {}).setdefault(cls, []).append(item)
    ordered: list[T] = []
    for file in sorted(groups, key=lambda name: (_key(seed, name), name)):
        classes = groups[file]
        for cls in sorted(classes, key=lambda name: (_key(seed, f"{file}::{name}"), name)):
            ordered += sorted(classes[cls], key=lambda item: (_key(seed, nodeid(item)), nodeid(item)))
    return ordered


def explicit(
    items: Sequence[T], wanted: Sequence[str], nodeid: Callable[[T], str] = lambda item: item.nodeid
) -> tuple[list[T], list[T]]:
    """`(kept, deselected)`: the items `wanted` names, in that order, and every other item.

    A node id that was not collected, or that is named twice, raises UsageError: a replay that quietly
    ran something else would prove nothing.
    """
    by_id = {nodeid(item): item for item in items}
    seen: set[str] = set()
    for name in wanted:
        if name in seen:
            raise UsageError(f"{ORDER_ENV}: {name} is named twice")
        if name not in by_id:
            raise UsageError(f"{ORDER_ENV}: {name} was not collected")
        seen.add(name)
    return [by_id[name] for name in wanted], [item for item in items if nodeid(item) not in seen]


def seed_from(environ: Mapping[str, str]) -> int | None:
    """The shuffle seed the harness asked for, or None."""
    text = environ.get(SHUFFLE_ENV, "").strip()
    if not text:
        return None
    try:
        seed = int(text)
    except ValueError:
        raise UsageError(f"{SHUFFLE_ENV}: {text!r} is not a whole number") from None
    if seed < 0:
        raise UsageError(f"{SHUFFLE_ENV}: {seed} is negative")
    return seed


def order_from(environ: Mapping[str, str]) -> list[str] | None:
    """The explicit order the harness asked for (the node ids in the file `$HARNESS_ORDER` names), or None."""
    path = environ.get(ORDER_ENV, "").strip()
    return read_order(Path(path)) if path else None


def write_order(path: Path, nodeids: Sequence[str]) -> Path:
    """Write an order file: one node id a line (pytest escapes line breaks in parameter ids)."""
    if any("\n" in name or "\r" in name for name in nodeids):
        raise UsageError("a node id with a line break cannot go into an order file")
    path.write_text("".join(f"{name}\n" for name in nodeids), encoding="utf-8")
    return path


def read_order(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise UsageError(f"{ORDER_ENV}: cannot read {path}: {err.strerror}") from err
    return [line for line in text.splitlines() if line.strip()]


def order_env(seed: int | None = None, order_file: Path | None = None) -> dict[str, str]:
    """The environment variables that make a session run in a seed's order or in an explicit order."""
    if seed is not None and order_file is not None:
        raise UsageError("a session runs either in a shuffled order or in an explicit one, not both")
    env = {}
    if seed is not None:
        env[SHUFFLE_ENV] = str(seed)
    if order_file is not None:
        env[ORDER_ENV] = str(order_file)
    return env
