"""A module's log of test outcomes, a JSON line a run (`reports/<id>/outcomes.jsonl`): written and read here.

Lines are whole records (`harness.evaluate.outcome_history.encode`), so logs from several machines can be
read together. The caller holds the project lock while it appends.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from harness.errors import DataError
from harness.evaluate.outcome_history import RunOutcomes, combine, decode, encode
from harness.store.disk import atomic_write

KEEP = 200  # runs kept in a log; older ones are dropped when a run is appended


def append(path: Path, record: RunOutcomes, keep: int = KEEP) -> None:
    """Add a run to the log, keeping the newest `keep` runs; the file is replaced whole, never torn."""
    lines = _lines(path)[-(keep - 1) :] if keep > 1 else []
    lines.append(json.dumps(encode(record), separators=(",", ":")))
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, "".join(f"{line}\n" for line in lines))


def read(paths: Sequence[Path]) -> list[RunOutcomes]:
    """The runs of every log (a missing one has none), as one history in time order."""
    logs = []
    for path in paths:
        lines = enumerate(_lines(path), 1)
        logs.append([decode(_parse(line, f"{path}:{n}"), f"{path}:{n}") for n, line in lines])
    return combine(*logs)


def _lines(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except OSError as err:
        raise DataError(f"{path}: cannot read: {err.strerror}") from err
    return [line for line in text.splitlines() if line.strip()]


def _parse(line: str, where: str):
    try:
        return json.loads(line)
    except ValueError as err:
        raise DataError(f"{where}: not JSON: {err}") from err
