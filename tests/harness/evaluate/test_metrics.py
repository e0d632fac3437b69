"""`metrics:` targets judged on plain figures: bounds, baseline and Δ, warn-only, not measured, the
median of K repetitions, step targets, and carry-forward through the real functions both ways."""

import pytest

from harness.evaluate import metrics as ev
from harness.evaluate.status import status
from harness.measure.metrics import Measurement, Recording, aggregate, stored_figures
from harness.spec.model import METRIC_STATS as STATS
from harness.spec.model import MetricBound, MetricTarget, Step, Suite

TESTS_OK = {"passed": 3, "failed": 0, "skipped": 0, "errors": 0}


def figures(**samples) -> dict:
    """Figures of named metrics from their samples (unit ms)."""
    return aggregate(Recording("t.py::t", name, "ms", tuple(values)) for name, values in samples.items())


def session(steps: dict[int, dict] | None = None, **samples) -> Measurement:
    return Measurement(figures(**samples), steps or {})


def target(
    name: str, stat: str = "p95", warn_only=False, repeat=1, origin="metrics", **bounds
) -> MetricTarget:
    return MetricTarget(name, (MetricBound(stat, **bounds),), warn_only, repeat, origin)


LATENCY = [float(v) for v in range(1, 101)]  # p95 = 95.05, mean 50.5


def test_a_missed_p95_is_unmet_and_gates_the_status():
    section = ev.assess([target("lat", max=90)], [session(lat=LATENCY)])
    (c,) = section["checks"]
    assert (c["key"], c["final"], c["met"], c["unit"], c["bounds"]) == (
        "metric:lat.p95",
        95.05,
        False,
        "ms",
        {"max": 90.0},
    )
    assert section["unmet"] == ["metric:lat.p95"]
    assert status(None, TESTS_OK, section["unmet"], None) == "in_progress"
    assert status(None, TESTS_OK, section["unmet"], ["metric:lat.p95"]) == "complete_with_variance"


def test_a_warn_only_miss_shows_but_does_not_gate():
    section = ev.assess([target("lat", max=90, warn_only=True)], [session(lat=LATENCY)])
    assert section["checks"][0]["met"] is False and section["checks"][0]["warn_only"] is True
    assert section["unmet"] == []
    assert status(None, TESTS_OK, section["unmet"], None) == "complete"


@pytest.mark.parametrize(
    ("bound", "met"),
    [
        ({"max": 95.05}, True),  # a bound is inclusive
        ({"max": 95.0}, False),
        ({"min": 95.05}, True),
        ({"min": 96}, False),
        ({"min": 90, "max": 100}, True),
        ({"equals": 95.05 * (1 + 1e-12)}, True),
        ({"equals": 95.06}, False),
    ],
)
def test_bounds(bound, met):
    section = ev.assess([target("lat", **bound)], [session(lat=LATENCY)])
    assert section["checks"][0]["met"] is met


def test_a_bare_bound_is_on_the_mean_and_equals_tolerates_rounding():
    section = ev.assess([target("share", "mean", equals=0.2)], [session(share=[0.1, 0.3, 0.2])])
    assert section["checks"][0]["final"] != 0.2 and section["checks"][0]["met"] is True


def test_a_target_no_test_recorded_is_not_measured_and_unmet():
    section = ev.assess([target("lat", max=50), target("gone", "count", min=1, warn_only=True)], [session()])
    lat, gone = section["checks"]
    assert (lat["measured"], lat["final"], lat["met"]) == (False, None, False)
    assert (gone["measured"], gone["met"], gone["warn_only"]) == (False, False, True)
    assert section["unmet"] == ["metric:lat.p95"]  # the warn-only one is shown, never unmet
    assert section["figures"] == {}


def test_baseline_and_delta_from_a_stored_results_metrics_section():
    before = ev.assess([], [session(lat=[float(v) for v in range(1, 11)])])
    baseline = stored_figures(before["figures"])  # as results.json of the baseline module holds them
    assert baseline["lat"]["p95"] == pytest.approx(9.55) and baseline["lat"]["unit"] == "ms"
    section = ev.assess([target("lat", max=100)], [session(lat=LATENCY)], baseline)
    c = section["checks"][0]
    assert (c["baseline"], c["final"]) == (baseline["lat"]["p95"], 95.05)
    assert c["delta"] == pytest.approx(95.05 - 9.55)
    assert section["baseline"] == baseline


def test_without_figures_or_targets_there_is_no_section():
    assert ev.assess([], [session()]) is None


def test_stored_figures_keep_what_is_usable():
    stored = {"lat": {"unit": "ms", "count": 2, "p95": "fast", "max": True}, "broken": [1]}
    assert stored_figures(stored) == {"lat": {"unit": "ms", "count": 2.0, **dict.fromkeys(STATS[1:])}}


def test_figures_without_targets_are_still_reported():
    section = ev.assess([], [session(lat=[1.0, 2.0])])
    assert section["checks"] == [] and section["unmet"] == []
    assert section["figures"]["lat"] == {
        "unit": "ms", "count": 2, "min": 1.0, "mean": 1.5, "p50": 1.5, "p95": 1.95, "p99": 1.99, "max": 2.0,
        "tests": 1, "repeat": 1,
    }  # fmt: skip
    assert section["percentile"] == "linear"


def test_repeat_judges_the_median_of_k_repetitions_and_keeps_the_spread():
    runs = [
        session(lat=[10.0, 40.0]),
        session(lat=[10.0, 70.0]),
        session(lat=[10.0, 50.0]),
        session(lat=[1e9]),
    ]
    section = ev.assess([target("lat", "max", repeat=3, max=60)], runs)
    c = section["checks"][0]
    assert (c["final"], c["runs"], c["spread"], c["met"]) == (50.0, [40.0, 70.0, 50.0], [40.0, 70.0], True)
    fig = section["figures"]["lat"]
    assert (fig["max"], fig["repeat"], [r["max"] for r in fig["runs"]]) == (50.0, 3, [40.0, 70.0, 50.0])
    assert fig["mean"] == 30.0  # every statistic is its own median: means 25, 40, 30


def test_fewer_repetitions_than_asked_are_judged_on_those_there_are():
    section = ev.assess([target("lat", "max", repeat=3, max=60)], [session(lat=[40.0]), session(lat=[70.0])])
    c = section["checks"][0]
    assert (c["final"], c["runs"], c["repeat"], c["met"]) == (55.0, [40.0, 70.0], 3, True)


def test_step_targets_are_judged_on_the_steps_own_tests():
    steps = (
        Step("fast", (Suite("a.py"),), (), (target("lat", "max", origin="step 1", max=10),)),
        Step("slow", (Suite("b.py"),), (), (target("lat", "max", origin="step 2", max=10),)),
    )
    measured = session({1: figures(lat=[5.0]), 2: figures(lat=[50.0])}, lat=[5.0, 50.0])
    section = ev.assess([target("lat", "max", max=100)], [measured], steps=steps)
    assert [(c["origin"], c["final"], c["met"]) for c in section["checks"]] == [
        ("metrics", 50.0, True),
        ("step 1", 5.0, True),
        ("step 2", 50.0, False),
    ]
    assert section["unmet"] == ["metric:lat.max"]
    assert set(section["steps"]) == {"1", "2"}


def test_a_missed_stat_at_two_levels_is_one_unmet_key():
    steps = (Step("s", (Suite("a.py"),), (), (target("lat", max=1, origin="step 1"),)),)
    measured = session({1: figures(lat=LATENCY)}, lat=LATENCY)
    assert ev.assess([target("lat", max=1)], [measured], steps=steps)["unmet"] == ["metric:lat.p95"]


def test_carry_forward_items_become_the_next_modules_targets():
    own = [target("lat", max=90), target("rate", "mean", min=5000, warn_only=True)]
    section = ev.assess(own, [session(lat=LATENCY, rate=[4000.0])])
    items = ev.carry_forward_items(section, "mod-a")
    assert items == [
        {"metric": "lat", "stat": "p95", "from": "mod-a", "origin": "metrics", "final": 95.05, "unit": "ms",
         "bounds": {"max": 90.0}},
    ]  # fmt: skip
    carried = ev.carried_targets(items)
    assert carried == (target("lat", max=90, origin="carried from mod-a"),)
    later = ev.assess(ev.with_carried([], carried), [session(lat=[1.0])])
    assert later["checks"][0]["origin"] == "carried from mod-a" and later["unmet"] == []


def test_a_modules_own_bound_replaces_a_carried_one_on_the_same_statistic():
    carried = (
        MetricTarget("lat", (MetricBound("p95", max=90), MetricBound("max", max=200)), origin="carried"),
    )
    merged = ev.with_carried([target("lat", max=120)], carried)
    assert merged == (
        target("lat", max=120),
        MetricTarget("lat", (MetricBound("max", max=200),), origin="carried"),
    )


def test_counts_say_how_many_targets_are_met_and_how_many_gating_misses_are_not_accepted():
    own = [
        target("lat", max=90),
        target("lat", "max", max=1000),
        target("rate", "mean", min=1, warn_only=True),
    ]
    section = ev.assess(own, [session(lat=LATENCY, rate=[0.5])])
    assert ev.counts(section) == {"met": 1, "total": 3, "below": 1}
    assert ev.counts(section, ["metric:lat.p95"]) == {"met": 1, "total": 3, "below": 0}
    assert ev.counts(ev.assess([], [session(lat=[1.0])])) is None and ev.counts(None) is None


def test_repeats_asks_for_the_most_any_target_wants():
    steps = (Step("s", (), (), (target("lat", repeat=5),)),)
    assert ev.repeats([target("lat", repeat=3), target("rate", repeat=1)], steps) == {"lat": 5}
