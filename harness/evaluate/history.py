"""A module's run history, read back from the `run_finished` events of trace.yml, and its table."""

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from harness.errors import UsageError
from harness.spec.catalog import check_step, find_spec, looks_like_path
from harness.spec.project import Project
from harness.store import trace
from harness.store.trace import Counts


@dataclass(frozen=True)
class Run:
    """One finished run (module, step or shard-combine) as its `run_finished` event recorded it, and the
    module's overall mutation score after the `harness mutate` that followed it, if one did.

    Every field is None when the event lacks it or holds something unusable (older or hand-edited
    events); `files` maps each measured file to its percent, `metrics` each recorded metric to its
    figure (neither is to be mutated), and `unmet` are the run's unmet keys.
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
    unmet: tuple[str, ...] = ()
    metrics: dict[str, trace.MetricFigure] = field(default_factory=dict, hash=False)
    stability: trace.StabilityFigures | None = field(default=None, hash=False)  # with repetitions or findings


def read_runs(project: Project, module_id: str, step: int | None = None) -> list[Run]:
    """The module's finished runs (of step `step`, or module-level runs) in the order they were published."""
    return runs_from_events(trace.read(project), module_id, step)


def module_runs(project: Project, ref: str, step: int | None = None) -> tuple[str, list[Run]]:
    """The id of the module `ref` names (an id or a spec path) and its finished runs (`read_runs`). With
    none, an unknown module or a step its spec does not have is a usage error, not an empty history."""
    module_id = find_spec(project, ref).id if looks_like_path(ref) else ref
    runs = read_runs(project, module_id, step)
    if not runs:
        check_step(find_spec(project, module_id), step)
    return module_id, runs


def read_histories(project: Project, module_ids: list[str]) -> dict[str, list[Run]]:
    """Module-level runs of each module, from one reading of trace.yml (for the MAP.md chart)."""
    events = trace.read(project)
    return {module_id: runs_from_events(events, module_id) for module_id in module_ids}


def runs_from_events(events: list[trace.Event], module_id: str, step: int | None = None) -> list[Run]:
    """Runs from trace events; a `mutation_finished` event gives the module's score to the run before it.

    Events of other modules and other kinds (interrupted runs, shards) are skipped; the trace's order is
    the order results replaced one another.
    """
    runs: list[Run] = []
    for event in events:
        if event.module != module_id:
            continue
        if isinstance(event, trace.RunFinished) and event.step == step:
            runs.append(run_from_event(event))
        elif isinstance(event, trace.MutationFinished) and step is None and runs:
            runs[-1] = dataclasses.replace(runs[-1], mutation=event.score)
    return runs


def run_from_event(event: trace.RunFinished) -> Run:
    """One `run_finished` event as a Run (also for an event about to be appended)."""
    return Run(
        at=event.at,
        commit=event.commit,
        step=event.step,
        shards=event.shards,
        status=event.status,
        reason=event.reason,
        tests=event.tests,
        overall=event.overall,
        target=event.target,
        files=dict(event.files),
        unmet=event.unmet,
        metrics=dict(event.metrics),
        stability=event.stability,
    )


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
    module_id, runs = module_runs(project, ref, step)
    if not runs:
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
