"""The text of measured figures against gold files: the report's section, `harness check`'s and `harness
run`'s lines, the MAP.md cell and `harness history --metric`'s table.

The inputs are evaluations (`harness.evaluate.metrics.assess`) of fixed figures. A difference keeps the
actual text in `tests/harness/report/actual/` and fails (`goldtest`).
"""

import pytest

from harness.evaluate import history, metric_history
from harness.evaluate import metrics as evaluate
from harness.measure.metrics import Measurement, Recording, aggregate, stored_figures
from harness.report import markdown
from harness.report import metrics as report
from harness.spec.model import MetricBound, MetricTarget, Step, Suite
from harness.spec.project import Project
from harness.store import layout, trace
from tests.harness.report.goldtest import compare


def figures(unit: str = "ms", **samples) -> dict:
    return aggregate(Recording("t.py::t", name, unit, tuple(values)) for name, values in samples.items())


def target(name, stat, warn_only=False, repeat=1, origin="metrics", **bounds) -> MetricTarget:
    return MetricTarget(name, (MetricBound(stat, **bounds),), warn_only, repeat, origin)


def result() -> dict:
    """A module run: met, missed, warn-only, accepted, not measured, a step's, a repeated figure."""
    latency = [float(v) for v in range(10, 90)]
    steps = (
        Step(
            "Connect",
            (Suite("suites/connect"),),
            (),
            (target("ws_connect_ms", "max", origin="step 1", max=60),),
        ),
    )
    own = [
        target("ws_connect_ms", "p95", max=50),
        target("ws_connect_ms", "p50", min=10, max=60),
        target("msgs_per_s", "mean", repeat=3, min=5000),
        target("refused_over_limit", "mean", equals=1.0),
        target("reconnect_ms", "count", warn_only=True, max=2),
        target("dropped_frames", "max", max=0),
    ]
    repetitions = []
    for rate, spread in ((5210.5, 1.0), (4980.0, 1.5), (5322.25, 2.0)):
        found = figures(ws_connect_ms=[v * spread for v in latency], reconnect_ms=[120, 95, 210]) | figures(
            "msg/s", msgs_per_s=[rate]
        ) | figures("", refused_over_limit=[1])  # fmt: skip
        repetitions.append(Measurement(found, {1: figures(ws_connect_ms=latency[:40])}))
    baseline = stored_figures(
        evaluate.assess([], [Measurement(figures(ws_connect_ms=latency[:60]), {})])["figures"]
    )
    section = evaluate.assess(own, repetitions, baseline, steps)
    return {
        "module": "mod-a",
        "baseline": {"module": "mod-0", "suites": None, "measured_at": None},
        "acceptance": {"accepted": ["metric:dropped_frames.max"]},
        "metrics": section,
    }


def _map_cell(r: dict) -> str:
    return report.map_cell(evaluate.counts(r["metrics"], r["acceptance"]["accepted"]))


def test_the_report_section_matches_gold():
    compare(markdown.metrics_section(result()), "metrics.section.md")


def test_check_lines_map_cell_and_run_lines_match_gold():
    r = result()
    lines = [*report.check_lines(r), f"MAP: {_map_cell(r)}", "run:", *report.terminal_lines(r)]
    compare("\n".join(lines) + "\n", "metrics.check.txt")


def test_accepted_misses_carried_forward_are_listed_in_the_section():
    r = result()
    items = evaluate.carry_forward_items(r["metrics"], "mod-a")
    text = markdown.metrics_section({**r, "metrics": {**r["metrics"], "carry_forward": items}})
    assert "- `metric:ws_connect_ms.p95`: 85.05 ms -> target ≤ 50 ms\n" in text
    assert "- `metric:dropped_frames.max`: not measured -> target ≤ 0\n" in text


def test_a_result_without_figures_or_targets_shows_nothing():
    r = {"module": "mod-a", "metrics": None, "acceptance": None}
    assert (markdown.metrics_section(r), report.check_lines(r), report.terminal_lines(r)) == ("", [], [])
    assert report.map_cell(evaluate.counts(None)) == "—"
    only_figures = {"module": "mod-a", "metrics": evaluate.assess([], [Measurement(figures(lat=[1.0]), {})])}
    assert evaluate.counts(only_figures["metrics"]) is None
    assert "| `lat` | ms | 1 | 1 |" in markdown.metrics_section(only_figures)


TRACE = """\
- {at: '2026-02-01T10:00:00+00:00', event: run_finished, module: mod-a, step: null, status: in_progress,
   commit: 0123456789ab, unmet: ['metric:ws_connect_ms.p95'],
   metrics: {ws_connect_ms: {unit: ms, count: 80, min: 10.0, mean: 49.5, p50: 49.5, p95: 85.05, p99: 88.21,
                             max: 89.0}}}
- {at: '2026-02-02T10:00:00+00:00', event: run_finished, module: mod-a, step: null, status: failed,
   reason: 1 test failed or errored}
- {at: '2026-02-03T10:00:00+00:00', event: run_finished, module: mod-a, step: null, status: complete,
   unmet: [], metrics: {ws_connect_ms: {unit: ms, count: 80, min: 5.0, mean: 24.75, p50: 24.75, p95: 42.525,
                                        p99: 44.1, max: 44.5}}}
"""


@pytest.mark.parametrize("stat", [None, "p95"])
def test_history_tables_match_gold(stat, tmp_path):
    project = Project(tmp_path)
    layout.trace(project).write_text(TRACE, encoding="utf-8")
    runs = metric_history.metric_runs(history.runs_from_events(trace.read(project), "mod-a"), "ws_connect_ms")
    stats = (stat,) if stat else metric_history.METRIC_STATS
    changes = metric_history.deltas(runs, stat) if stat else [None] * len(runs)
    shown = metric_history.MetricShown(
        "mod-a", None, "ws_connect_ms", stats, list(zip(runs, changes, strict=True)), 3
    )
    compare(report.history_table(shown, "trace.yml") + "\n", f"metrics.history.{stat or 'all'}.txt")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "—"),
        (0, "0"),
        (1.0, "1"),
        (41.2345, "41.23"),
        (5123.25, "5,123.2"),
        (5000.0, "5,000"),
        (0.000123456, "0.000123"),
    ],
)
def test_numbers_for_people(value, text):
    assert report.number(value) == text
