"""Figures tests record: aggregation, malformed records, and real sessions split over xdist workers and
shards giving exactly what one serial session gives."""

import json
import random
from pathlib import Path

import numpy
import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.errors import DataError
from harness.measure import metrics
from harness.measure.metrics import Figure, Recording, aggregate, measure, percentile
from harness.run.session import RunOptions, run_session
from harness.spec.model import Step, Suite
from harness.spec.project import load_project
from harness.store import shards

finite = st.floats(min_value=-1e9, max_value=1e9, allow_nan=False, allow_infinity=False)


def rec(name: str, *values: float, unit: str = "ms", nodeid: str = "t.py::t") -> Recording:
    return Recording(nodeid, name, unit, tuple(values))


def test_statistics_of_samples_from_several_tests():
    fig = aggregate([rec("lat", 4, 1, nodeid="a.py::x"), rec("lat", 3, 2, 5, nodeid="b.py::y")])["lat"]
    assert fig == Figure("lat", "ms", 5, 1.0, 3.0, 3.0, 4.8, 4.96, 5.0, tests=2)


def test_a_single_value_is_every_statistic():
    fig = aggregate([rec("msgs_per_s", 5200.5, unit="1/s")])["msgs_per_s"]
    assert [fig.stat(s) for s in metrics.STATS] == [1, *[5200.5] * 6]


def test_a_metric_recorded_without_samples_has_only_a_count():
    fig = aggregate([rec("lat")])["lat"]
    assert (fig.count, fig.mean, fig.p95, fig.tests) == (0, None, None, 1)


@given(st.lists(finite, min_size=1, max_size=60), st.sampled_from([0, 1, 25, 50, 95, 99, 100]))
def test_percentiles_are_numpys_linear_interpolation(values, q):
    assert percentile(sorted(values), q) == pytest.approx(numpy.percentile(values, q), rel=1e-12, abs=1e-6)


@given(st.lists(finite, min_size=1, max_size=80), st.integers(1, 6), st.randoms(use_true_random=False))
def test_any_split_and_order_of_the_samples_gives_identical_figures(values, parts, rnd):
    """What merging workers and shards relies on: figures depend on the samples only, not on grouping."""
    whole = aggregate([rec("x", *values)])
    shuffled = values[:]
    rnd.shuffle(shuffled)
    cuts = sorted(rnd.randrange(len(values) + 1) for _ in range(parts - 1))
    pieces = [shuffled[a:b] for a, b in zip([0, *cuts], [*cuts, len(values)], strict=True)]
    split = aggregate([rec("x", *piece, nodeid=f"t.py::t{i}") for i, piece in enumerate(pieces)])
    assert split["x"].as_dict() | {"tests": 1} == whole["x"].as_dict()


def test_two_units_for_one_metric_is_an_error_naming_both_tests():
    with pytest.raises(DataError, match=r"'lat' is recorded with different units: 'ms' \(a.py::x\), 's' \(b"):
        aggregate([rec("lat", 1, nodeid="a.py::x"), rec("lat", 1, unit="s", nodeid="b.py::y")])


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("fast", "is not a JSON object"),
        ('{"unit": "ms", "values": [1]}', "is not a JSON object"),
        ('{"name": "lat", "unit": "ms", "values": 3}', "is not a JSON object"),
        ('{"name": "lat", "unit": "ms", "values": [1, NaN]}', "metric 'lat': nan is not a finite number"),
        ('{"name": "lat", "unit": "ms", "values": [true]}', "metric 'lat': True is not a finite number"),
    ],
)
def test_a_malformed_property_is_an_error_naming_the_records_file_and_test(tmp_path, value, problem):
    path = tmp_path / "tests-1.jsonl"
    record = {
        "event": "test",
        "nodeid": "t.py::t",
        "outcome": "passed",
        "properties": [["harness_metric", value]],
    }
    path.write_text(json.dumps(record) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=problem) as caught:
        metrics.read_recordings(path)
    assert str(caught.value).startswith(f"{path}: t.py::t: ")


def test_other_properties_are_not_metrics(tmp_path):
    path = tmp_path / "tests-1.jsonl"
    props = [["ticket", "ABC-1"], ["harness_metric", '{"name": "lat", "unit": "ms", "values": [2]}']]
    path.write_text(json.dumps({"event": "test", "nodeid": "t.py::t", "properties": props}) + "\n")
    assert metrics.read_recordings(path) == [Recording("t.py::t", "lat", "ms", (2.0,))]


# Real sessions. Samples whose float sums depend on the order they are added in (0.1 + 0.2 + 1e16 ...),
# recorded at a fixture's teardown, through record_property, by parametrized tests and by a class.
CONFTEST = """\
import json

import pytest


def record(node, name, values, unit):
    figure = json.dumps({"name": name, "unit": unit, "values": values})
    node.user_properties.append(("harness_metric", figure))


@pytest.fixture
def connect_ms(request):
    samples = []
    yield samples
    record(request.node, "ws_connect_ms", samples, "ms")
"""

TEST_LATENCY = """\
import pytest


@pytest.mark.parametrize("n", range(8))
def test_connects(connect_ms, n):
    connect_ms.extend([((n * 7 + i * 3) % 11) * 0.1 + (1e16 if n == 7 and i == 4 else 0.0) for i in range(5)])
"""

TEST_THROUGHPUT = """\
import json


def rate(value):
    return json.dumps({"name": "msgs_per_s", "unit": "1/s", "values": [value]})


class TestFlow:
    def test_burst(self, record_property):
        record_property("harness_metric", rate(5123.25))

    def test_steady(self, record_property, connect_ms):
        connect_ms.append(0.3)
        record_property("harness_metric", rate(4870.5))


def test_refusal(record_property):
    record_property("harness_metric", json.dumps({"name": "refused", "unit": "", "values": [1]}))
"""

SUITES = (Suite("suites/perf/test_latency.py"), Suite("suites/perf/test_throughput.py"))


@pytest.fixture(scope="module")
def perf(shared_throwaway):
    shared_throwaway.write("suites/perf/conftest.py", CONFTEST)
    shared_throwaway.write("suites/perf/test_latency.py", TEST_LATENCY)
    shared_throwaway.write("suites/perf/test_throughput.py", TEST_THROUGHPUT)
    shared_throwaway.spec("perf", suites=[s.path for s in SUITES])
    return shared_throwaway


def _session(project, work, options: RunOptions, steps=()) -> list[dict]:
    session = run_session(project.root, SUITES, ("calc",), work, options, lambda line: None, steps=steps)
    assert session.exit_codes == (0,)
    return [process.as_dict() for process in session.processes]


@pytest.fixture(scope="module")
def serial(perf, tmp_path_factory):
    return _session(perf, tmp_path_factory.mktemp("serial"), RunOptions())


def test_a_serial_session_gives_every_sample(serial):
    figures = measure(serial).figures
    assert list(figures) == ["msgs_per_s", "refused", "ws_connect_ms"]
    assert figures["ws_connect_ms"].count == 8 * 5 + 1 and figures["ws_connect_ms"].tests == 9
    assert (figures["msgs_per_s"].count, figures["msgs_per_s"].min, figures["msgs_per_s"].unit) == (
        2,
        4870.5,
        "1/s",
    )
    assert figures["refused"].as_dict() == {"unit": "", **dict.fromkeys(metrics.STATS, 1.0), "tests": 1}


def test_xdist_workers_give_exactly_the_serial_figures(perf, serial, tmp_path):
    processes = _session(perf, tmp_path / "xdist", RunOptions(workers=2))
    assert measure(processes) == measure(serial)


def test_shards_give_exactly_the_serial_figures(perf, serial):
    for shard in ("1/2", "2/2"):
        assert perf.harness("run", "perf", "--shard", shard).exit_code == 0
    done = shards.complete(load_project(perf.root), "perf")
    parts = [measure(stored.processes) for stored in done]
    assert all(part.figures != measure(serial).figures for part in parts)  # each shard saw only some tests
    assert measure([p for stored in done for p in stored.processes]) == measure(serial)


def test_the_order_samples_arrive_in_changes_no_figure(serial, tmp_path):
    """The records of a session with its test lines in another order: the same figures, bit for bit."""
    lines = [line for p in serial for line in Path(p["records"]).read_text(encoding="utf-8").splitlines(True)]
    random.Random(7).shuffle(lines)
    shuffled = tmp_path / "shuffled.jsonl"
    shuffled.write_text("".join(lines), encoding="utf-8")
    assert measure([{"records": str(shuffled)}]).figures == measure(serial).figures


def test_a_steps_figures_come_from_its_own_tests(perf, serial, tmp_path):
    steps = (
        Step("latency", (Suite("suites/perf/test_latency.py"),), ()),
        Step("flow", (Suite("suites/perf/test_throughput.py::TestFlow"),), ()),
        Step("elsewhere", (Suite("suites/perf/test_throughput.py", k="refusal"),), ()),
    )
    measured = measure(_session(perf, tmp_path, RunOptions(), steps))
    assert measured.figures == measure(serial).figures
    assert list(measured.steps[1]) == ["ws_connect_ms"] and measured.steps[1]["ws_connect_ms"].count == 40
    assert list(measured.steps[2]) == ["msgs_per_s", "ws_connect_ms"]
    assert (
        measured.steps[2]["ws_connect_ms"].as_dict()
        == aggregate([rec("ws_connect_ms", 0.3)])["ws_connect_ms"].as_dict()
    )
    assert measured.steps[3] == {}  # its suite runs under another -k than this session's


def test_the_tests_a_repetition_runs_again(serial):
    assert metrics.tests_recording(serial, ["msgs_per_s", "refused"]) == [
        "suites/perf/test_throughput.py::TestFlow::test_burst",
        "suites/perf/test_throughput.py::TestFlow::test_steady",
        "suites/perf/test_throughput.py::test_refusal",
    ]
    assert metrics.tests_recording(serial, ["nothing"]) == []
    assert metrics.files_recording(serial, ["msgs_per_s", "ws_connect_ms"]) == list(SUITES)


def test_a_repetition_counts_only_the_samples_of_the_tests_named(serial):
    steady = "suites/perf/test_throughput.py::TestFlow::test_steady"
    figures = measure([{**p, "counted": [steady]} for p in serial]).figures
    assert (figures["msgs_per_s"].count, figures["msgs_per_s"].mean, figures["ws_connect_ms"].count) == (
        1,
        4870.5,
        1,
    )
    assert "refused" not in figures
