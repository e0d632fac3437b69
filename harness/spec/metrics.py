"""A spec's `metrics:` targets (module-wide and per step), validated into MetricTarget with file and key.

metrics:
  ws_connect_ms: {p95: {max: 50}, repeat: 3}     # a statistic's bounds; judged on the median of 3 runs
  msgs_per_s: {min: 5000}                         # a bare bound: on the mean (a single value's own)
  refused_over_limit: {equals: 1.0, warn_only: true}
"""

import math
from collections.abc import Callable

from harness.errors import SpecError
from harness.spec.model import METRIC_STATS, MetricBound, MetricTarget

BOUNDS = ("max", "min", "equals")
OPTIONS = ("warn_only", "repeat")
BARE_STAT = "mean"  # what a bound given without a statistic applies to
_FORMS = "{STAT: {max|min|equals: number}} or {max|min|equals: number}"

Fail = Callable[[str, str], SpecError]  # (key, what is wrong) -> the error naming the spec's file


def parse_metrics(value, key: str, origin: str, fail: Fail) -> tuple[MetricTarget, ...]:
    """The `metrics:` mapping at `key` (`metrics`, `steps[2].metrics`): one target per metric name."""
    if value is None:
        return ()
    if not isinstance(value, dict) or not value:
        raise fail(
            key, "expected a mapping of metric name to targets, e.g. {ws_connect_ms: {p95: {max: 50}}}"
        )
    return tuple(_target(name, v, f"{key}['{name}']", origin, fail) for name, v in value.items())


def _target(name, value, key: str, origin: str, fail: Fail) -> MetricTarget:
    if not isinstance(name, str) or not name.strip() or any(c.isspace() for c in name):
        raise fail(key, "a metric's name is one word, as the test records it")
    if not isinstance(value, dict):
        raise fail(key, f"expected {_FORMS}, got {value!r}")
    allowed = {*METRIC_STATS, *BOUNDS, *OPTIONS}
    for k in value:
        if k not in allowed:
            raise fail(f"{key}.{k}", f"unknown key (allowed: {', '.join(sorted(allowed))})")
    given = {k: v for k, v in value.items() if k not in OPTIONS}
    bare = {k: v for k, v in given.items() if not isinstance(v, dict)}
    per_stat = {k: v for k, v in given.items() if isinstance(v, dict)}
    if bare and per_stat:
        raise fail(
            key,
            f"mixes bare bounds ({', '.join(bare)}) with statistics ({', '.join(per_stat)});"
            f" put the bare ones under `{BARE_STAT}:`",
        )
    if per_stat:
        bounds = tuple(_bound(stat, v, f"{key}.{stat}", fail) for stat, v in per_stat.items())
    elif bare:
        for k, v in bare.items():
            if k not in BOUNDS:
                raise fail(f"{key}.{k}", f"expected {{max|min|equals: number}} under a statistic, got {v!r}")
        bounds = (_bound(BARE_STAT, bare, key, fail),)
    else:
        raise fail(key, f"give at least one bound: {_FORMS}")
    return MetricTarget(
        name=name,
        bounds=bounds,
        warn_only=_warn_only(value.get("warn_only", False), f"{key}.warn_only", fail),
        repeat=_repeat(value.get("repeat", 1), f"{key}.repeat", fail),
        origin=origin,
    )


def _bound(stat: str, value: dict, key: str, fail: Fail) -> MetricBound:
    if stat not in METRIC_STATS:
        raise fail(key, f"unknown statistic (allowed: {', '.join(METRIC_STATS)})")
    if not value:
        raise fail(key, "give max, min or equals")
    for k in value:
        if k not in BOUNDS:
            raise fail(f"{key}.{k}", f"unknown bound (allowed: {', '.join(sorted(BOUNDS))})")
    numbers = {k: _number(v, f"{key}.{k}", fail) for k, v in value.items()}
    if "equals" in numbers and len(numbers) > 1:
        raise fail(key, "equals cannot be combined with min or max")
    low, high = numbers.get("min"), numbers.get("max")
    if low is not None and high is not None and low > high:
        raise fail(key, f"min {low:g} is above max {high:g}: no figure can meet both")
    return MetricBound(stat, **numbers)


def _number(value, key: str, fail: Fail) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise fail(key, f"expected a number, got {value!r}")
    return float(value)


def _warn_only(value, key: str, fail: Fail) -> bool:
    if not isinstance(value, bool):
        raise fail(key, "expected true or false")
    return value


def _repeat(value, key: str, fail: Fail) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise fail(key, f"expected a whole number of repetitions, 1 or more, got {value!r}")
    return value
