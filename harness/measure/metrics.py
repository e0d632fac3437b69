"""Figures tests record (`harness_metric` properties): samples read from the test records, aggregated once.

A test records a metric through the `harness_metric` fixture or `record_property("harness_metric", ...)`;
the session plugin copies the property into the test's record, and `measure` reads the records files
of every pytest process of a session (and of every shard of a combine). Samples are kept, never
partial figures, and aggregated once: the figures do not depend on how the tests were split over xdist
workers or shards, nor on the order they ran in (the samples are sorted; the mean is `math.fsum`'s
correctly rounded sum over the count).

Percentiles are by linear interpolation between the closest ranks: numpy's default (`method="linear"`,
Hyndman and Fan's type 7, `statistics.quantiles(method="inclusive")`), so p50 is the median and every
percentile of a single sample is that sample.
"""

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from harness.errors import DataError
from harness.run.plugin import within
from harness.run.records import iter_records
from harness.spec.model import METRIC_STATS as STATS
from harness.spec.model import Suite

PROPERTY = "harness_metric"  # the user property a test records a figure under
PERCENTILES = {"p50": 50, "p95": 95, "p99": 99}
PERCENTILE_METHOD = "linear"  # numpy's default; named in results.json


@dataclass(frozen=True)
class Recording:
    """One test's record of one metric: the values it gave, in its own order."""

    nodeid: str
    name: str
    unit: str
    values: tuple[float, ...]


@dataclass(frozen=True)
class Figure:
    """A metric's aggregate over its samples; without samples every statistic but `count` is None."""

    name: str
    unit: str
    count: int
    min: float | None
    mean: float | None
    p50: float | None
    p95: float | None
    p99: float | None
    max: float | None
    tests: int  # how many tests recorded it

    def stat(self, stat: str) -> float | None:
        return getattr(self, stat)

    def as_dict(self) -> dict:
        """The figure as results.json and trace events hold it: unit, the seven statistics, tests."""
        return {"unit": self.unit, **{stat: self.stat(stat) for stat in STATS}, "tests": self.tests}


@dataclass(frozen=True)
class Measurement:
    """A session's figures: over all its tests, and per step number over that step's own tests."""

    figures: dict[str, Figure]
    steps: dict[int, dict[str, Figure]]


def percentile(ordered: list[float], q: float) -> float:
    """The q-th percentile (0-100) of sorted, non-empty samples, interpolated linearly between ranks."""
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    fraction = position - low
    if fraction == 0:
        return ordered[low]
    return ordered[low] + (ordered[low + 1] - ordered[low]) * fraction


def aggregate(recordings: Iterable[Recording]) -> dict[str, Figure]:
    """Per metric name (sorted), its figure over every sample of every recording.

    A metric recorded under two units is a mistake in the tests, not something to average over.
    """
    by_name: dict[str, list[Recording]] = {}
    for rec in recordings:
        by_name.setdefault(rec.name, []).append(rec)
    return {name: _figure(name, by_name[name]) for name in sorted(by_name)}


def _figure(name: str, recordings: list[Recording]) -> Figure:
    units = {rec.unit: rec.nodeid for rec in recordings}
    if len(units) > 1:
        shown = ", ".join(f"{unit!r} ({nodeid})" for unit, nodeid in units.items())
        raise DataError(f"metric {name!r} is recorded with different units: {shown}")
    values = sorted(v for rec in recordings for v in rec.values)
    tests = len({rec.nodeid for rec in recordings})
    if not values:
        return Figure(name, recordings[0].unit, 0, None, None, None, None, None, None, tests)
    quantiles = {stat: percentile(values, q) for stat, q in PERCENTILES.items()}
    mean = math.fsum(values) / len(values)
    return Figure(
        name, recordings[0].unit, len(values), values[0], mean, **quantiles, max=values[-1], tests=tests
    )


def recordings_of(record: Mapping, where: str = "") -> list[Recording]:
    """The metrics one test record carries (its `harness_metric` properties); DataError if malformed."""
    nodeid = str(record.get("nodeid", ""))
    found = []
    for name, value in record.get("properties") or []:
        if name == PROPERTY:
            found.append(_recording(nodeid, value, f"{where}{nodeid}"))
    return found


def _recording(nodeid: str, value: str, where: str) -> Recording:
    shape = 'a JSON object {"name": str, "unit": str, "values": [numbers]}'
    try:
        data = json.loads(value)
    except (TypeError, ValueError) as err:
        raise DataError(f"{where}: {PROPERTY} property {value!r} is not {shape}") from err
    if not isinstance(data, dict) or not isinstance(data.get("name"), str) or not data["name"].strip():
        raise DataError(f"{where}: {PROPERTY} property {value!r} is not {shape}")
    unit, values = data.get("unit", ""), data.get("values")
    if not isinstance(unit, str) or not isinstance(values, list):
        raise DataError(f"{where}: {PROPERTY} property {value!r} is not {shape}")
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            raise DataError(f"{where}: metric {data['name']!r}: {v!r} is not a finite number")
    return Recording(nodeid, data["name"], unit, tuple(float(v) for v in values))


def read_recordings(path: Path) -> list[Recording]:
    """Every metric recorded in one records file (one pytest process), in the order the tests finished."""
    found = []
    for _, record in iter_records(path):
        if record.get("event") == "test":
            found += recordings_of(record, f"{path}: ")
    return found


def measure(processes: Iterable[Mapping]) -> Measurement:
    """The figures of a session from its pytest processes (`Process.as_dict`, or a combine's shards').

    Each process is a mapping with `records` (its records file), `steps` (per step number the suite
    paths whose tests the step takes from it: a step's figures are those of its own tests, the rule
    coverage's per-step figures follow) and, in a repetition, `counted`: the node ids whose samples
    count (those that recorded in the run itself; a shard's own tests, though it ran their whole files).
    """
    every: list[Recording] = []
    per_step: dict[int, list[Recording]] = {}
    for process in processes:
        found = read_recordings(Path(process["records"]))
        if process.get("counted") is not None:
            counted = set(process["counted"])
            found = [r for r in found if r.nodeid in counted]
        every += found
        for number, paths in process.get("steps") or ():
            mine = [r for r in found if any(within(r.nodeid, p) for p in paths)]
            per_step.setdefault(number, []).extend(mine)
    steps = {number: aggregate(recs) for number, recs in sorted(per_step.items())}
    return Measurement(aggregate(every), steps)


def _recorded(processes: Iterable[Mapping], names: Iterable[str]) -> dict[str, tuple]:
    """Per node id that recorded any of the metrics `names`, the selection (`k`, `markers`) it ran under."""
    wanted = set(names)
    found = {}
    for p in processes:
        for r in read_recordings(Path(p["records"])):
            if r.name in wanted:
                found[r.nodeid] = (p.get("k"), p.get("markers"))
    return found


def tests_recording(processes: Iterable[Mapping], names: Iterable[str]) -> list[str]:
    """The node ids (sorted) of the tests of a session that recorded any of the metrics `names`: whose
    samples a repetition counts (`repeat: K`)."""
    return sorted(_recorded(processes, names))


def files_recording(processes: Iterable[Mapping], names: Iterable[str]) -> list[Suite]:
    """The test files holding those tests, each with the selection it ran under: what a repetition runs
    again. Whole files, so that a module- or class-scoped fixture that measures serves the same tests
    as in the run itself."""
    files = {(nodeid.split("::")[0], *selection) for nodeid, selection in _recorded(processes, names).items()}
    return [Suite(path, k, markers) for path, k, markers in sorted(files, key=lambda f: (f[0], str(f[1:])))]


def stored_figures(figures: Mapping) -> dict[str, dict]:
    """Figures as `Figure.as_dict` stored them (results.json, baseline.json) read back for a baseline:
    per metric its unit and each statistic as a finite number or None; anything unusable left out."""
    return {
        str(name): {"unit": str(f.get("unit") or "")} | {s: _number(f.get(s)) for s in STATS}
        for name, f in figures.items()
        if isinstance(f, Mapping)
    }


def _number(value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)
