"""`harness_metric`: figures a test measured (latencies, counts), kept as the test's `user_properties`."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from numbers import Real

import pytest

from .errors import FixtureUsageError

# The user_properties key of a metric; its value is the metric as a JSON object.
PROPERTY = "harness_metric"

# The test whose setup, call or teardown runs now (set by the plugin's runtest hook).
CURRENT_TEST = pytest.StashKey["pytest.Item | None"]()


@dataclass(frozen=True)
class Metric:
    """One recorded figure: a name, its samples (one or more floats) and a unit."""

    name: str
    values: tuple[float, ...]
    unit: str = ""

    def to_property(self) -> tuple[str, str]:
        """The `(key, value)` pair appended to `user_properties` (JUnit XML shows it as a property)."""
        record = {"name": self.name, "unit": self.unit, "values": list(self.values)}
        return PROPERTY, json.dumps(record, allow_nan=False)

    @classmethod
    def from_property(cls, key: str, value: object) -> Metric | None:
        """The metric a `user_properties` pair holds, or None for any other property."""
        if key != PROPERTY or not isinstance(value, str):
            return None
        record = json.loads(value)
        return cls(record["name"], tuple(float(v) for v in record["values"]), record["unit"])


def metrics_of(user_properties: Iterable[tuple[str, object]]) -> list[Metric]:
    """Every metric among a test's `user_properties`, in the order they were recorded."""
    found = (Metric.from_property(key, value) for key, value in user_properties)
    return [metric for metric in found if metric is not None]


def make_metric(name: str, value: float | list[float] | tuple, unit: str = "") -> Metric:
    """A validated Metric: a non-empty name, one or more finite numbers, a string unit."""
    if not isinstance(name, str) or not name.strip():
        raise FixtureUsageError(f"harness_metric: the name must be a non-empty string, got {name!r}")
    if not isinstance(unit, str):
        raise FixtureUsageError(f"harness_metric({name!r}): the unit must be a string, got {unit!r}")
    samples = list(value) if isinstance(value, list | tuple) else [value]
    if not samples:
        raise FixtureUsageError(f"harness_metric({name!r}): no values")
    for sample in samples:
        # bool is an int to Python, but True is no measurement; NaN and infinities are not JSON.
        if isinstance(sample, bool) or not isinstance(sample, Real) or not math.isfinite(sample):
            raise FixtureUsageError(
                f"harness_metric({name!r}): values must be finite numbers, got {sample!r}"
            )
    return Metric(name, tuple(float(sample) for sample in samples), unit)


class MetricRecorder:
    """`harness_metric(name, value, unit="")`: records a figure on the test that runs now."""

    def __init__(self, config: pytest.Config) -> None:
        self._config = config

    def __call__(self, name: str, value: float | list[float] | tuple, unit: str = "") -> Metric:
        metric = make_metric(name, value, unit)
        test = self._config.stash.get(CURRENT_TEST, None)
        if test is None:
            raise FixtureUsageError(
                f"harness_metric({name!r}): no test is running; record figures during a test's "
                "setup, call or teardown"
            )
        test.user_properties.append(metric.to_property())
        return metric
