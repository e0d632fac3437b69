"""A module's run history, read back from the `run_finished` events of trace.yml, and its table."""

import dataclasses
import datetime as dt
import json
import math
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from harness.errors import UsageError
from harness.spec.catalog import find_spec, looks_like_path
from harness.spec.project import Project
from harness.store import disk


@dataclass(frozen=True)
class Counts:
    passed: int | None
    failed: int | None
    skipped: int | None
    errors: int | None


@dataclass(frozen=True)
class Run:
    """One finished run (module, step or shard-combine) as its `run_finished` event recorded it.

    Every field is None when the event lacks it or holds something unusable (older or hand-edited
    events); `files` maps each measured file to its percent and is not to be mutated.
    """

    at: str | None
    commit: str | None
    step: int | None
    shards: int | None
    status: str | None
    reason: str | None
    tests: Counts | None
    overall: float | None
    target: float | None
    files: dict[str, float | None] = field(default_factory=dict, hash=False)
    mutation: float | None = None


def read_runs(trace_path: Path, module_id: str, step: int | None = None) -> list[Run]:
    """The module's finished runs (of step `step`, or module-level runs) in the order they were published."""
    return runs_from_events(disk.read_trace(trace_path), module_id, step)


def read_histories(trace_path: Path, module_ids: list[str]) -> dict[str, list[Run]]:
    """Module-level runs of each module, from one reading of trace.yml (for the MAP.md chart)."""
    events = disk.read_trace(trace_path)
    return {module_id: runs_from_events(events, module_id) for module_id in module_ids}


def runs_from_events(events: list, module_id: str, step: int | None = None) -> list[Run]:
    """Runs from trace events; a `mutation_finished` event gives its score to the run before it.

    Events of other modules, interrupted runs (started, never finished), shard events and anything that
    is not a mapping are skipped; the trace's order is the order results replaced one another.
    """
    runs: list[Run] = []
    for ev in events:
        if not isinstance(ev, dict) or ev.get("module") != module_id or ev.get("step") != step:
            continue
        if ev.get("event") == "run_finished":
            runs.append(run_from_event(ev))
        elif ev.get("event") == "mutation_finished" and runs:
            runs[-1] = dataclasses.replace(runs[-1], mutation=_number(ev.get("score")))
    return runs


def run_from_event(ev: dict) -> Run:
    """One `run_finished` event as a Run (also for an event about to be appended)."""
    files = ev.get("files")
    return Run(
        at=_when(ev.get("at")),
        commit=_text(ev.get("commit")),
        step=_int(ev.get("step")),
        shards=_int(ev.get("shards")),
        status=_text(ev.get("status")),
        reason=_text(ev.get("reason")),
        tests=_tests(ev.get("tests")),
        overall=_number(ev.get("overall")),
        target=_number(ev.get("target")),
        files={str(p): _number(v) for p, v in files.items()} if isinstance(files, dict) else {},
    )


def _number(value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _int(value) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _text(value) -> str | None:
    return value if isinstance(value, str) else None


def _when(value) -> str | None:
    # An unquoted timestamp written by hand comes back from YAML as a datetime.
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return _text(value)


def _tests(value) -> Counts | None:
    if not isinstance(value, dict):
        return None
    return Counts(*(_int(value.get(k)) for k in ("passed", "failed", "skipped", "errors")))


def figure(run: Run, file: str | None = None) -> float | None:
    """The run's overall percent, or one file's."""
    return run.overall if file is None else run.files.get(file)


def deltas(runs: list[Run], file: str | None = None) -> list[float | None]:
    """Each run's change from the last earlier run that has a figure (a failed run has none)."""
    out, previous = [], None
    for run in runs:
        value = figure(run, file)
        out.append(None if value is None or previous is None else value - previous)
        previous = value if value is not None else previous
    return out


# Rendering: `harness history` as a table or JSON.

Row = tuple[Run, float | None]  # a run and its change from the one before


@dataclass(frozen=True)
class Shown:
    """What `harness history` shows: the module, which runs (with their changes), and of how many."""

    module_id: str
    step: int | None
    file: str | None
    rows: list[Row]
    total: int


def select(
    project: Project,
    ref: str,
    step: int | None = None,
    file: str | None = None,
    limit: int | None = None,
) -> Shown:
    """The runs `harness history` shows for module `ref` (an id or a spec path)."""
    module_id = find_spec(project, ref).id if looks_like_path(ref) else ref
    runs = read_runs(project.trace_path, module_id, step)
    if not runs:
        find_spec(project, module_id)  # an unknown module is a usage error, not an empty history
        return Shown(module_id, step, None, [], 0)
    file = _file_key(project, file, runs, module_id) if file else None
    rows = list(zip(runs, deltas(runs, file), strict=True))[-limit if limit else 0 :]
    return Shown(module_id, step, file, rows, len(runs))


def _file_key(project: Project, given: str, runs: list[Run], module_id: str) -> str:
    """`given` as the trace names files: relative to the project root, with forward slashes."""
    path = Path(given)
    if path.is_absolute() and path.is_relative_to(project.root):
        path = path.relative_to(project.root)
    key = PurePosixPath(path.as_posix()).as_posix()
    if not any(key in run.files for run in runs):
        raise UsageError(
            f"{given}: not a file measured in any finished run of {module_id}"
            " (name it relative to the project root, as the report does)"
        )
    return key


def json_text(shown: Shown) -> str:
    """`harness history --json`: every shown run as its fields and its change."""
    module_id, step, file = shown.module_id, shown.step, shown.file
    entries = []
    for run, change in shown.rows:
        entry = dataclasses.asdict(run)
        if file is not None:
            entry["files"] = {file: run.files.get(file)}
        entries.append({**entry, "delta": change})
    return json.dumps({"module": module_id, "step": step, "file": file, "runs": entries}, indent=2)
