"""`harness_metric`: figures recorded as the test's user_properties, from tests and shared fixtures alike."""

from __future__ import annotations

import json
import math
import re
import xml.etree.ElementTree as ET
from types import SimpleNamespace

import pytest

from harness.plugin.errors import FixtureUsageError
from harness.plugin.metrics import PROPERTY, Metric, MetricRecorder, make_metric, metrics_of

RECORDING_TESTS = """
import pytest


@pytest.fixture(scope="module")
def load(harness_metric):
    harness_metric("warmup_s", 0.5, "s")              # lands on the test whose setup ran this
    yield [12.0, 15.5, 40.25]
    harness_metric("teardown_count", 3)               # on the test whose teardown runs this


def test_records_samples(load, harness_metric):
    recorded = harness_metric("ws_connect_ms", load, "ms")
    assert recorded.values == (12.0, 15.5, 40.25)


def test_records_one_value_and_a_tuple(load, harness_metric):
    harness_metric("messages_admitted", 52)
    harness_metric("pair", (1, 2.5), "x")


@pytest.fixture(scope="class")
def figures():
    return {"rss_growth_mb": 1.5}


class TestShared:
    def test_records_what_a_class_fixture_measured(self, figures, harness_metric):
        harness_metric("rss_growth_mb", figures["rss_growth_mb"], "MB")
"""


def _properties(junit_xml) -> dict[str, list[tuple[str, str]]]:
    """Each test case's properties, by test name."""
    cases = ET.parse(junit_xml).getroot().iter("testcase")
    return {
        case.get("name"): [(p.get("name"), p.get("value")) for p in case.iter("property")] for case in cases
    }


def test_metrics_reach_junit_xml_as_properties_of_the_test_that_recorded_them(project, tmp_path):
    project.configure("junit_family = xunit2", django=False, factory=False)
    junit = tmp_path / "junit.xml"
    result = project.run(RECORDING_TESTS, "-p", "no:randomly", f"--junitxml={junit}")
    result.assert_outcomes(passed=3)
    properties = _properties(junit)
    first = metrics_of(properties["test_records_samples"])
    assert first == [Metric("warmup_s", (0.5,), "s"), Metric("ws_connect_ms", (12.0, 15.5, 40.25), "ms")]
    assert metrics_of(properties["test_records_one_value_and_a_tuple"]) == [
        Metric("messages_admitted", (52.0,)),
        Metric("pair", (1.0, 2.5), "x"),
    ]
    # The module fixture is torn down after the module's last test, as part of that test's teardown.
    assert properties["test_records_what_a_class_fixture_measured"] == [
        (PROPERTY, json.dumps({"name": "rss_growth_mb", "unit": "MB", "values": [1.5]})),
        (PROPERTY, json.dumps({"name": "teardown_count", "unit": "", "values": [3.0]})),
    ]


def test_recording_outside_a_test_fails_with_the_metric_named():
    outside = SimpleNamespace(stash=pytest.Stash())  # what the plugin's runtest hook leaves between tests
    with pytest.raises(FixtureUsageError, match=r"^harness_metric\('late'\): no test is running; "):
        MetricRecorder(outside)("late", 1.0)


def test_a_metric_round_trips_through_its_property():
    metric = make_metric("fanout_delivery_ms", [1, 2.5, 3e-3], "ms")
    key, value = metric.to_property()
    assert key == PROPERTY
    assert json.loads(value) == {"name": "fanout_delivery_ms", "unit": "ms", "values": [1.0, 2.5, 0.003]}
    assert Metric.from_property(key, value) == metric
    assert Metric.from_property("other", value) is None
    assert metrics_of([("other", "x"), (key, value)]) == [metric]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("", 1.0), "the name must be a non-empty string, got ''"),
        ((None, 1.0), "the name must be a non-empty string, got None"),
        (("m", []), "('m'): no values"),
        (("m", [1.0, math.nan]), "values must be finite numbers, got nan"),
        (("m", math.inf), "values must be finite numbers, got inf"),
        (("m", True), "values must be finite numbers, got True"),
        (("m", "12"), "values must be finite numbers, got '12'"),
        (("m", [1.0, None]), "values must be finite numbers, got None"),
        (("m", 1.0, 5), "the unit must be a string, got 5"),
    ],
)
def test_bad_metrics_are_refused_naming_the_metric(args, message):
    with pytest.raises(FixtureUsageError, match=f"^harness_metric.*{re.escape(message)}"):
        make_metric(*args)
