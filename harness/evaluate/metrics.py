"""`metrics:` targets against the figures tests recorded and a baseline's: baseline → final → Δ, met, unmet.

Pure functions on plain data. A target with `repeat: K` is judged on the median of K repetitions (each a
session of the tests that record the figure); every statistic of such a figure is the median of that
statistic over the repetitions, and the spread (lowest and highest) is kept for the report. Unmet
gating targets give keys `metric:<name>.<stat>` beside coverage's file keys and mutation's
`mutation:<path>`, which status, acceptance and carry-forward treat alike.
"""

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from harness.measure.metrics import PERCENTILE_METHOD, STATS, Figure, Measurement
from harness.spec.model import MetricBound, MetricTarget, Step

UNMET_PREFIX = "metric:"
REL_TOL = 1e-9  # `equals` compares floats this closely: a mean of 0.1 and 0.2 equals 0.15


def unmet_key(name: str, stat: str) -> str:
    """`metric:ws_connect_ms.p95`: how results.json, acceptance and `harness check` name a missed target."""
    return f"{UNMET_PREFIX}{name}.{stat}"


@dataclass(frozen=True)
class Judged:
    """A figure as its targets judge it: per statistic the median of its repetitions (or the one run)."""

    figure: Figure
    runs: tuple[Figure, ...]  # the repetitions it was judged on
    repeat: int  # how many its targets ask for

    def values(self, stat: str) -> list[float]:
        return [v for run in self.runs if (v := run.stat(stat)) is not None]


def repeats(targets: Iterable[MetricTarget], steps: Sequence[Step] = ()) -> dict[str, int]:
    """Per metric name the most repetitions any target asks for (module-wide or a step's); 1 is left out."""
    found: dict[str, int] = {}
    for target in [*targets, *(t for step in steps for t in step.metrics)]:
        if target.repeat > 1:
            found[target.name] = max(found.get(target.name, 1), target.repeat)
    return found


def judge(runs: Sequence[Mapping[str, Figure]], repeat: Mapping[str, int]) -> dict[str, Judged]:
    """Each metric of the repetitions (the session itself first) judged on those of the first K that
    recorded it: fewer than K are judged on what there is, and `Judged.runs` says how many that was."""
    names = sorted({name for run in runs for name in run})
    judged = {}
    for name in names:
        k = repeat.get(name, 1)
        present = tuple(run[name] for run in runs[:k] if name in run)
        if present:
            judged[name] = Judged(_median(present), present, k)
    return judged


def _median(runs: tuple[Figure, ...]) -> Figure:
    if len(runs) == 1:
        return runs[0]
    medians = {}
    for stat in (*STATS, "tests"):
        values = [v for run in runs if (v := getattr(run, stat)) is not None]
        medians[stat] = statistics.median(values) if values else None
    return replace(runs[0], **medians)


def met(value: float | None, bounds: Mapping[str, float]) -> bool:
    """Whether a figure lies within its bounds (`max` at most, `min` at least, `equals` to REL_TOL)."""
    if value is None:
        return False
    if "max" in bounds and value > bounds["max"]:
        return False
    if "min" in bounds and value < bounds["min"]:
        return False
    return "equals" not in bounds or math.isclose(value, bounds["equals"], rel_tol=REL_TOL, abs_tol=0.0)


def bounds_of(bound: MetricBound) -> dict[str, float]:
    return {k: v for k in ("min", "max", "equals") if (v := getattr(bound, k)) is not None}


def check(target: MetricTarget, bound: MetricBound, judged: Judged | None, baseline: Mapping | None) -> dict:
    """One statistic of one figure against its bounds: baseline, final, Δ, the repetitions, met."""
    final = judged.figure.stat(bound.stat) if judged else None
    base = _number((baseline or {}).get(bound.stat))
    bounds = bounds_of(bound)
    runs = judged.values(bound.stat) if judged else []
    return {
        "key": unmet_key(target.name, bound.stat),
        "metric": target.name,
        "stat": bound.stat,
        "unit": ""
        if bound.stat == "count"
        else (judged.figure.unit if judged else (baseline or {}).get("unit", "")),
        "origin": target.origin,
        "bounds": bounds,
        "baseline": base,
        "final": final,
        "delta": final - base if final is not None and base is not None else None,
        "repeat": target.repeat,
        "runs": runs,
        "spread": [min(runs), max(runs)] if len(runs) > 1 else None,
        "measured": final is not None,
        "warn_only": target.warn_only,
        "met": met(final, bounds),
    }


def _number(value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def with_carried(own: Sequence[MetricTarget], carried: Sequence[MetricTarget]) -> tuple[MetricTarget, ...]:
    """The module's own targets, then each carried bound on a statistic the module does not bound itself."""
    bound = {(t.name, b.stat) for t in own for b in t.bounds}
    kept = []
    for target in carried:
        rest = tuple(b for b in target.bounds if (target.name, b.stat) not in bound)
        if rest:
            kept.append(replace(target, bounds=rest))
    return (*own, *kept)


def assess(
    targets: Sequence[MetricTarget],
    runs: Sequence[Measurement],
    baseline: Mapping[str, Mapping] | None = None,
    steps: Sequence[Step] = (),
) -> dict | None:
    """A run's `metrics` section, or None when no test recorded a figure and no target asks for one.

    `targets` are the module's (with `with_carried`) or, in a step run, that step's; `steps` are the
    spec's in a module run, whose targets are judged on each step's own tests. `runs` are the
    repetitions, the session itself first; `baseline` the baseline's figures (`stored_figures`).
    """
    want = repeats(targets, steps)
    figures = judge([run.figures for run in runs], want)
    step_figures = {
        number: judge([run.steps.get(number, {}) for run in runs], want)
        for number in range(1, len(steps) + 1)
    }
    if not figures and not targets and not any(step.metrics for step in steps):
        return None
    checks = _checks(targets, figures, baseline)
    for number, step in enumerate(steps, 1):
        checks += _checks(step.metrics, step_figures[number], baseline)
    unmet = list(dict.fromkeys(c["key"] for c in checks if not c["met"] and not c["warn_only"]))
    return {
        "percentile": PERCENTILE_METHOD,
        "figures": {name: _figure_dict(j) for name, j in figures.items()},
        "steps": {
            str(n): {name: _figure_dict(j) for name, j in f.items()} for n, f in step_figures.items() if f
        },
        "baseline": dict(baseline) if baseline else None,
        "checks": checks,
        "unmet": unmet,
    }


def _checks(targets: Sequence[MetricTarget], figures: Mapping[str, Judged], baseline) -> list[dict]:
    return [check(t, b, figures.get(t.name), (baseline or {}).get(t.name)) for t in targets for b in t.bounds]


def _figure_dict(judged: Judged) -> dict:
    """A figure as results.json keeps it; a repeated one with each repetition's statistics."""
    entry = {**judged.figure.as_dict(), "repeat": judged.repeat}
    if judged.repeat > 1:
        entry["runs"] = [run.as_dict() for run in judged.runs]
    return entry


def carry_forward_items(section: Mapping | None, module: str) -> list[dict]:
    """The missed gating metric targets of an accepted module, as items a later module takes over."""
    return [
        {
            "metric": c["metric"],
            "stat": c["stat"],
            "from": module,
            "origin": c["origin"],
            "final": c["final"],
            "unit": c["unit"],
            "bounds": dict(c["bounds"]),
        }
        for c in (section or {}).get("checks", [])
        if not c["met"] and not c["warn_only"]
    ]


def carried_targets(items: Iterable[Mapping]) -> tuple[MetricTarget, ...]:
    """Carried metric items as targets of the module that takes them over (`carry_forward: {from: …}`)."""
    return tuple(
        MetricTarget(
            item["metric"],
            (MetricBound(item["stat"], **item["bounds"]),),
            origin=f"carried from {item['from']}",
        )
        for item in items
    )


def counts(section: Mapping | None, accepted: Sequence[str] = ()) -> dict[str, int] | None:
    """How a result's metric targets stand (MAP.md's cell): of `total` checks, how many are `met`, and
    how many gating ones are `below` and not accepted; None without targets."""
    checks = (section or {}).get("checks") or []
    if not checks:
        return None
    below = [c for c in checks if not c["met"] and not c["warn_only"] and c["key"] not in accepted]
    return {"met": sum(c["met"] for c in checks), "total": len(checks), "below": len(below)}
