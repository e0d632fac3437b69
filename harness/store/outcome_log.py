"""A module's outcome log (`reports/<id>/outcomes.jsonl`): a JSON line a run with each test's outcome and
the source state it ran at, appended here and read back, several logs (other machines') as one history.

A line is a whole run: node ids grouped by outcome, then by file (`encode`). `harness combine` writes one
line for the shards it merges (a test runs in one shard only); a shard writes none. Logs of other
machines are read beside the module's own (`harness run --history FILE`); a run found in two logs (the
same run id, state and time) counts once. In git, `outcomes.jsonl merge=union` in .gitattributes lets
branches that each appended a line merge without a conflict.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from harness.errors import DataError
from harness.spec.nodeids import split_nodeid
from harness.spec.project import Project
from harness.store import disk

OUTCOMES = ("passed", "failed", "errors", "skipped", "flaky")  # flaky: passed and failed within the run
KEEP = 50  # runs kept in a log; older ones are dropped when it grows past KEEP + KEEP // 4
WHAT = "test outcome record"


@dataclass(frozen=True)
class RunOutcomes:
    """One run's outcome of each test, at one source state (`harness.measure.source_state`)."""

    state: str
    at: str  # ISO-8601, when the run finished
    outcomes: Mapping[str, str] = field(default_factory=dict)
    run: str = ""  # the run's id in trace.yml


def encode(record: RunOutcomes) -> dict:
    """The stored form: node ids by outcome, then by file (`{"passed": {"t/test_a.py": ["test_x"]}}`)."""
    tests: dict[str, dict[str, list[str]]] = {}
    for test, outcome in sorted(record.outcomes.items()):
        file = split_nodeid(test)[0]
        rest = test[len(file) + 2 :] if test.startswith(f"{file}::") else ""
        tests.setdefault(outcome, {}).setdefault(file, []).append(rest)
    return {"state": record.state, "at": record.at, "run": record.run, "tests": tests}


def decode(data, where: str) -> RunOutcomes:
    """A stored record back; DataError naming `where` when it is not one."""
    try:
        outcomes = {}
        for outcome, files in data["tests"].items():
            if outcome not in OUTCOMES:
                raise ValueError(f"unknown outcome {outcome!r}")
            for file, names in files.items():
                outcomes.update({f"{file}::{name}" if name else file: outcome for name in names})
        return RunOutcomes(str(data["state"]), str(data["at"]), outcomes, str(data.get("run", "")))
    except (KeyError, TypeError, AttributeError, ValueError) as err:
        raise DataError(f"{where}: not a {WHAT}: {err}") from err


def append(project: Project, path: Path, record: RunOutcomes, keep: int = KEEP) -> None:
    """Add a run to the log under the project lock: one line appended (a kill loses at most that line);
    past `keep` runs and a quarter more, the log is rewritten whole with the newest `keep`."""
    line = json.dumps(encode(record), separators=(",", ":"))
    with disk.locked(project):
        disk.append_line(path, line)
        lines = _lines(path)
        if len(lines) > keep + keep // 4:
            disk.atomic_write(path, "".join(f"{kept}\n" for kept in lines[-keep:]))


def read(paths: Sequence[Path]) -> list[RunOutcomes]:
    """The runs of every log (a missing one has none), as one history in time order, each run once."""
    logs = []
    for path in paths:
        lines = enumerate(_lines(path), 1)
        logs.append([decode(_parse(line, f"{path}:{n}"), f"{path}:{n}") for n, line in lines])
    return combine(*logs)


def combine(*logs: Sequence[RunOutcomes]) -> list[RunOutcomes]:
    """Several logs (this machine's, CI artifacts) as one, in time order, each run once."""
    seen, merged = set(), []
    for record in sorted((r for log in logs for r in log), key=lambda r: r.at):
        key = (record.run, record.state, record.at) if record.run else id(record)
        if key not in seen:
            seen.add(key)
            merged.append(record)
    return merged


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
