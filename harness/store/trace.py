"""trace.yml: each event kind as a frozen dataclass, its YAML mapping both ways, the file's reader and writer.

Writers build an event (`RunFinished(module=..., ...)`) and `append` it; readers get typed events from
`read` and never look into the YAML by key. Reading is lenient, because people edit the trace by hand
and older harness versions wrote fewer fields: a field that is missing or unusable reads as None (or
empty), and a mapping whose `event` is not a kind listed here is skipped (it stays in the file).
"""

import dataclasses
import datetime as dt
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import ClassVar

import yaml

from harness.errors import DataError, yaml_problem
from harness.spec.model import METRIC_STATS
from harness.spec.project import Project
from harness.store import disk, layout

# libyaml's safe loader parses the same YAML as PyYAML's several times faster; the trace grows with
# every run, and every run reads it.
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_SAFE_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # the same text, several times faster


def _text(value) -> str | None:
    return value if isinstance(value, str) else None


def _int(value) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _number(value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _when(value) -> str | None:
    # An unquoted timestamp written by hand comes back from YAML as a datetime.
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return _text(value)


def _texts(value) -> tuple[str, ...]:
    return tuple(str(v) for v in value) if isinstance(value, list | tuple) else ()


def _flag(value) -> bool | None:
    return value if isinstance(value, bool) else None


def _ints(value) -> tuple[int, ...]:
    return tuple(v for v in value if isinstance(v, int)) if isinstance(value, list | tuple) else ()


def _percents(value) -> dict[str, float | None]:
    return {str(k): _number(v) for k, v in value.items()} if isinstance(value, dict) else {}


def _mappings(value) -> tuple[dict, ...]:
    return tuple(dict(v) for v in value if isinstance(v, dict)) if isinstance(value, list | tuple) else ()


def _kept(value):
    return value


def _f(read: Callable, default=None, factory=None):
    """A field read back with `read` (which makes anything unusable None or empty)."""
    if factory is not None:
        return field(default_factory=factory, metadata={"read": read})
    return field(default=default, metadata={"read": read})


def _flag(value) -> bool | None:
    return value if isinstance(value, bool) else None


def _seeds(value) -> tuple[int | None, ...]:
    """Each repetition's shuffle seed, None for one that ran as collected."""
    return tuple(_int(v) for v in value) if isinstance(value, list | tuple) else ()


def _ranges(value) -> dict[str, tuple[float | None, float | None]]:
    """`{path: [low, high]}`: a file's lowest and highest percent over the repetitions."""
    if not isinstance(value, dict):
        return {}
    pairs = {str(k): v for k, v in value.items() if isinstance(v, list | tuple) and len(v) == 2}
    return {path: (_number(low), _number(high)) for path, (low, high) in pairs.items()}


@dataclass(frozen=True)
class Counts:
    """Test counts as a run recorded them (None where the event lacks one: flaky and quarantined tests
    are counted since `harness run --repeat`)."""

    passed: int | None = None
    failed: int | None = None
    skipped: int | None = None
    errors: int | None = None
    flaky: int | None = None
    quarantined: int | None = None

    @classmethod
    def read(cls, value) -> "Counts | None":
        if not isinstance(value, dict):
            return None
        return cls(*(_int(value.get(f.name)) for f in dataclasses.fields(cls)))


@dataclass(frozen=True)
class StabilityFigures:
    """What a run found of its stability (results.json's `stability`, compact): how many repetitions and
    their seeds, whether it was stable, the flaky and order-dependent tests, each unstable file's range."""

    repetitions: int | None = None
    seeds: tuple[int | None, ...] = ()
    stable: bool | None = None
    flaky: tuple[str, ...] = ()
    order_dependent: tuple[str, ...] = ()
    unstable_files: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)

    @classmethod
    def read(cls, value) -> "StabilityFigures | None":
        if not isinstance(value, dict):
            return None
        return cls(
            repetitions=_int(value.get("repetitions")),
            seeds=_seeds(value.get("seeds")),
            stable=_flag(value.get("stable")),
            flaky=_texts(value.get("flaky")),
            order_dependent=_texts(value.get("order_dependent")),
            unstable_files=_ranges(value.get("unstable_files")),
        )

    @classmethod
    def of_section(cls, section: dict | None) -> "StabilityFigures | None":
        """From results.json's `stability` section (None: the run had none)."""
        if section is None:
            return None
        return cls(
            repetitions=section["repetitions"],
            seeds=tuple(section.get("seeds", ())),
            stable=section["stable"],
            flaky=tuple(t["test"] for t in [*section.get("flaky", []), *section.get("seen_flaky", [])]),
            order_dependent=tuple(t["test"] for t in section.get("order_dependent", [])),
            unstable_files={f["path"]: (f["low"], f["high"]) for f in section.get("unstable_files", [])},
        )


@dataclass(frozen=True)
class MetricFigure:
    """A figure tests recorded, as a run judged it (a repeated metric's medians): its unit and its
    statistics (`spec.model.METRIC_STATS`, in that order; None where the event lacks one)."""

    unit: str | None = None
    count: float | None = None
    min: float | None = None
    mean: float | None = None
    p50: float | None = None
    p95: float | None = None
    p99: float | None = None
    max: float | None = None

    def stat(self, stat: str) -> float | None:
        return getattr(self, stat)

    @classmethod
    def of(cls, figure: dict) -> "MetricFigure":
        """A figure of a result's `metrics` section (`unit` and the statistics; the rest left out)."""
        return cls(figure.get("unit"), *(figure.get(stat) for stat in METRIC_STATS))

    @classmethod
    def read(cls, value) -> "MetricFigure | None":
        if not isinstance(value, dict):
            return None
        return cls(_text(value.get("unit")), *(_number(value.get(stat)) for stat in METRIC_STATS))


def _metric_figures(value) -> dict[str, MetricFigure]:
    if not isinstance(value, dict):
        return {}
    return {str(name): figure for name, v in value.items() if (figure := MetricFigure.read(v)) is not None}


@dataclass(frozen=True, kw_only=True)
class Event:
    """What every event has: when, which module, and the git commit (None outside git)."""

    KIND: ClassVar[str] = ""
    module: str | None
    at: str | None = field(default_factory=disk.now)
    commit: str | None = None

    def to_dict(self) -> dict:
        """The event as trace.yml holds it: at, event, module, commit, then its own fields in order."""
        head = {"at": self.at, "event": self.KIND, "module": self.module, "commit": self.commit}
        return {**head, **{f.name: _plain(getattr(self, f.name)) for f in _own_fields(type(self))}}

    @classmethod
    def from_dict(cls, data: dict) -> "Event":
        own = {f.name: f.metadata["read"](data.get(f.name)) for f in _own_fields(cls)}
        return cls(
            at=_when(data.get("at")),
            module=_text(data.get("module")),
            commit=_text(data.get("commit")),
            **own,
        )


def _own_fields(cls) -> list[dataclasses.Field]:
    return [f for f in dataclasses.fields(cls) if "read" in f.metadata]


def _plain(value):
    """YAML's plain types all the way down (a dataclass as a mapping of its fields, a tuple as a list)."""
    if dataclasses.is_dataclass(value):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


@dataclass(frozen=True, kw_only=True)
class RunEvent(Event):
    """Which run (an id) and where it runs: a step, a shard (`K/N`) or a combine of N shards."""

    run: str | None = _f(_text)
    step: int | None = _f(_int)
    shard: str | None = _f(_text)
    combine: int | None = _f(_int)


@dataclass(frozen=True, kw_only=True)
class RunStarted(RunEvent):
    """A run (module, step or shard) or a `combine` begins."""

    KIND: ClassVar[str] = "run_started"
    pid: int | None = _f(_int)
    host: str | None = _f(_text)


@dataclass(frozen=True, kw_only=True)
class RunFinished(RunEvent):
    """A result was written: the figures `harness history` and the trend charts read back (`shards`: how
    many shards a combine merged; `metrics`: per recorded metric its figure as judged; `stability`: what
    the run's repetitions found)."""

    KIND: ClassVar[str] = "run_finished"
    shards: int | None = _f(_int)
    target: float | None = _f(_number)
    status: str | None = _f(_text)
    reason: str | None = _f(_text)
    tests: Counts | None = _f(Counts.read)
    overall: float | None = _f(_number)
    unmet: tuple[str, ...] = _f(_texts, ())
    files: dict[str, float | None] = _f(_percents, factory=dict)
    metrics: dict[str, MetricFigure] = _f(_metric_figures, factory=dict)
    stability: StabilityFigures | None = _f(StabilityFigures.read)

    @classmethod
    def of_result(cls, result: dict, run: str | None, commit: str | None) -> "RunFinished":
        """The event of a result just written (results.json's keys, `records.REQUIRED` and more)."""
        return cls(
            module=result["module"],
            commit=commit,
            run=run,
            step=(result["step"] or {}).get("number"),
            shards=result.get("shards"),
            target=result["overall"].get("target"),
            status=result["status"],
            reason=result["reason"],
            tests=Counts.read(result["tests"]),
            overall=result["overall"]["percent"],
            unmet=tuple(result["unmet"]),
            files={p: f["percent"] for p, f in result["files"].items()},
            metrics={
                name: MetricFigure.of(figure)
                for name, figure in ((result.get("metrics") or {}).get("figures") or {}).items()
            },
            stability=StabilityFigures.of_section(result.get("stability")),
        )


@dataclass(frozen=True, kw_only=True)
class RunEnded(RunEvent):
    """What the failed, interrupted and shard ends share: why the run ended so."""

    reason: str | None = _f(_text)


@dataclass(frozen=True, kw_only=True)
class RunFailed(RunEnded):
    """An error stopped the run before a result was written (`reason`: the message the command printed)."""

    KIND: ClassVar[str] = "run_failed"


@dataclass(frozen=True, kw_only=True)
class RunInterrupted(RunEnded):
    """Ctrl-C or SIGTERM; or, logged by a later run, a harness process that died without an end."""

    KIND: ClassVar[str] = "run_interrupted"


@dataclass(frozen=True, kw_only=True)
class ShardFinished(RunEnded):
    """A shard's data was stored for `harness combine`."""

    KIND: ClassVar[str] = "shard_finished"
    exit_codes: tuple[int, ...] = _f(_ints, ())


@dataclass(frozen=True, kw_only=True)
class VarianceAccepted(Event):
    """`harness accept`: the lead's rationale and the unmet keys it covers."""

    KIND: ClassVar[str] = "variance_accepted"
    rationale: str | None = _f(_text)
    accepted: tuple[str, ...] = _f(_texts, ())
    overall: float | None = _f(_number)


@dataclass(frozen=True, kw_only=True)
class CarryForwardCreated(Event):
    """`harness accept`: the unmet targets a later module can take over."""

    KIND: ClassVar[str] = "carry_forward_created"
    items: tuple[dict, ...] = _f(_mappings, ())


@dataclass(frozen=True, kw_only=True)
class MutationFinished(Event):
    """`harness mutate` (or `combine --mutation`, or marking equivalents) changed the stored scores:
    the scores of the files it judged, and the overall score of the stored mutation.json after it."""

    KIND: ClassVar[str] = "mutation_finished"
    files: dict[str, float | None] = _f(_percents, factory=dict)
    score: float | None = _f(_number)


@dataclass(frozen=True, kw_only=True)
class MutationInterrupted(Event):
    """Ctrl-C or SIGTERM stopped `harness mutate` (its verdicts so far are in the store)."""

    KIND: ClassVar[str] = "mutation_interrupted"
    shard: str | None = _f(_text)


@dataclass(frozen=True, kw_only=True)
class MutationShardFinished(Event):
    """A shard of `harness mutate --shard K/N` was stored for `harness combine --mutation`."""

    KIND: ClassVar[str] = "mutation_shard_finished"
    shard: str | None = _f(_text)
    mutants: int | None = _f(_int)


@dataclass(frozen=True, kw_only=True)
class MutantEquivalent(Event):
    """A survivor set aside as equivalent, with the rationale the report shows."""

    KIND: ClassVar[str] = "mutant_equivalent"
    mutant: str | None = _f(_text)
    file: str | None = _f(_text)
    line: int | None = _f(_int)
    operator: str | None = _f(_text)
    rationale: str | None = _f(_text)


@dataclass(frozen=True, kw_only=True)
class PatchMeasured(Event):
    """`--changed`: a change's figures against the spec's `patch:` targets, as patch.json has them
    (`commit` is HEAD; `base` the merge base the change is measured from). `tests` of `of` ran."""

    KIND: ClassVar[str] = "patch_measured"
    ref: str | None = _f(_text)
    base: str | None = _f(_text)
    uncommitted: bool | None = _f(_flag)
    lines_percent: float | None = _f(_number)
    branches_percent: float | None = _f(_number)
    mutation_score: float | None = _f(_number)
    tests: int | None = _f(_int)
    of: int | None = _f(_int)
    passed: bool | None = _f(_flag)

    @classmethod
    def of_patch(cls, doc: dict) -> "PatchMeasured":
        """The event of a patch.json document (`harness.evaluate.patch_json.document`)."""
        totals, mutation, affected = doc["totals"], doc["mutation"] or {}, doc["affected"] or {}
        return cls(
            module=doc["module"],
            commit=doc["head"]["commit"],
            ref=doc["base"]["ref"],
            base=doc["base"]["commit"],
            uncommitted=doc["head"]["uncommitted"],
            lines_percent=totals["lines_percent"],
            branches_percent=totals["branches_percent"],
            mutation_score=mutation.get("score"),
            tests=affected.get("tests"),
            of=affected.get("of"),
            passed=doc["gate"]["passed"],
        )


KINDS: dict[str, type[Event]] = {
    cls.KIND: cls
    for cls in (
        RunStarted,
        RunFinished,
        RunFailed,
        RunInterrupted,
        ShardFinished,
        VarianceAccepted,
        CarryForwardCreated,
        MutationFinished,
        MutationInterrupted,
        MutationShardFinished,
        MutantEquivalent,
        PatchMeasured,
    )
}
RUN_ENDS = (RunFinished, RunFailed, RunInterrupted, ShardFinished)


def parse(entry) -> Event | None:
    """One mapping of trace.yml as its event, or None when it is not an event this harness knows."""
    if not isinstance(entry, dict):
        return None
    kind = KINDS.get(entry.get("event"))
    return kind.from_dict(entry) if kind else None


def read_raw(project: Project) -> list:
    """trace.yml's entries as YAML gives them (an empty list when there is no file yet)."""
    path = layout.trace(project)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    try:
        entries = yaml.load(text, Loader=_SAFE_LOADER)
    except yaml.YAMLError as err:
        raise DataError(f"{path}: {yaml_problem(err)}; fix or move it") from err
    if entries is None:
        return []
    if not isinstance(entries, list):
        raise DataError(f"{path}: expected a YAML list of events")
    return entries


# The events of the trace file as last read, by path, with the file's identity then: a command reads
# the trace several times (history, acceptance, abandoned runs, charts) and a long trace takes a
# while to parse. Every write replaces the file (a new inode), so a changed file is never taken for it.
_READ: dict[str, tuple[tuple[int, int, int], list[Event]]] = {}


def read(project: Project) -> list[Event]:
    """Every event of trace.yml this harness knows, in order (do not change what it returns)."""
    path = layout.trace(project)
    try:
        info = path.stat()
    except FileNotFoundError:
        return []
    stamp = (info.st_ino, info.st_size, info.st_mtime_ns)
    cached = _READ.get(str(path))
    if cached is not None and cached[0] == stamp:
        return list(cached[1])
    events = [event for event in map(parse, read_raw(project)) if event is not None]
    _READ[str(path)] = (stamp, events)
    return list(events)


def of_module(events: Iterable[Event], kind: type[Event], module_id: str) -> list:
    return [e for e in events if isinstance(e, kind) and e.module == module_id]


def append(
    project: Project, *events: Event, before: Callable[[list[Event]], list[Event]] | None = None
) -> None:
    """Append events to trace.yml under the lock; the file is replaced whole, so it is always valid YAML.

    `before(existing events)`, if given, returns events to append first, decided while the lock is held.
    """
    path = layout.trace(project)
    with disk.locked(project):
        old = path.read_bytes() if path.is_file() else b""
        existing = read(project)  # refuses to extend a file that is already broken
        if before is not None:
            events = (*before(existing), *events)
        if old and not old.endswith(b"\n"):
            old += b"\n"
        entries = [event.to_dict() for event in events]
        text = yaml.dump(
            entries, Dumper=_SAFE_DUMPER, sort_keys=False, allow_unicode=True, default_flow_style=False
        )
        disk.atomic_write(path, old + text.encode("utf-8"))
