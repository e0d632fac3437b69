"""The session plugin carries a test's `harness_metric` properties into its record: from the test body
(`record_property`), from function-scoped fixtures at setup, after `yield` and in finalizers, from
failed and erroring tests, serially and from xdist workers (whose reports travel to the controller);
and from module-, class- and session-scoped fixtures that record on the test running at the time (as
the `harness_metric` fixture does), whose teardown is part of the last test's."""

import json

import pytest

from harness.measure.metrics import Recording, read_recordings
from harness.run.env import RECORDS_ENV

CONFTEST = """\
import json

import pytest


def metric(node, name, *values):
    # What the `harness_metric` fixture does (harness/plugin/metrics.py).
    figure = json.dumps({"name": name, "unit": "ms", "values": list(values)})
    node.user_properties.append(("harness_metric", figure))


@pytest.fixture
def at_setup(request):
    metric(request.node, "setup_ms", 1.0)


@pytest.fixture
def after_yield(request):
    yield
    metric(request.node, "teardown_ms", 2.0, 2.5)


@pytest.fixture
def in_finalizer(request):
    request.addfinalizer(lambda: metric(request.node, "finalizer_ms", 3.0))


@pytest.fixture
def then_breaks(request):
    metric(request.node, "setup_ms", 9.0)
    raise RuntimeError("no server")
"""

TESTS = """\
import json


def test_everywhere(at_setup, after_yield, in_finalizer, record_property):
    record_property("harness_metric", json.dumps({"name": "body_ms", "unit": "ms", "values": [4.0]}))
    record_property("ticket", "ABC-1")


def test_fails_after_recording(after_yield, record_property):
    record_property("harness_metric", json.dumps({"name": "body_ms", "unit": "ms", "values": [5.0]}))
    assert False


def test_setup_error(then_breaks, after_yield):
    pass


def test_records_nothing():
    pass
"""

EXPECTED = {
    "test_m.py::test_everywhere": [
        ("setup_ms", (1.0,)),
        ("body_ms", (4.0,)),
        ("finalizer_ms", (3.0,)),
        ("teardown_ms", (2.0, 2.5)),
    ],
    "test_m.py::test_fails_after_recording": [("body_ms", (5.0,)), ("teardown_ms", (2.0, 2.5))],
    # The setup of `after_yield` never ran: only what the broken fixture recorded before raising.
    "test_m.py::test_setup_error": [("setup_ms", (9.0,))],
}


@pytest.fixture
def records(pytester, monkeypatch):
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_m=TESTS)
    pytester.makeini("[pytest]\naddopts = -p harness.run.plugin\n")
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")  # only the plugins this test names
    path = pytester.path / "records.jsonl"
    monkeypatch.setenv(RECORDS_ENV, str(path))
    return path


def _by_test(path) -> dict:
    found: dict[str, list] = {}
    for rec in read_recordings(path):
        found.setdefault(rec.nodeid, []).append((rec.name, rec.values))
    return found


def test_every_way_of_recording_reaches_the_record(pytester, records):
    pytester.runpytest().assert_outcomes(passed=2, failed=1, errors=1)
    assert _by_test(records) == EXPECTED
    plain = [json.loads(line) for line in records.read_text().splitlines()]
    assert ["ticket", "ABC-1"] in next(r for r in plain if r.get("nodeid") == "test_m.py::test_everywhere")[
        "properties"
    ]


def test_xdist_workers_send_the_same_properties(pytester, records):
    result = pytester.runpytest_subprocess("-p", "xdist", "-n", "2")
    result.assert_outcomes(passed=2, failed=1, errors=1)
    assert _by_test(records) == EXPECTED
    assert Recording("test_m.py::test_everywhere", "teardown_ms", "ms", (2.0, 2.5)) in read_recordings(
        records
    )


# A session-scoped recorder that appends to the test running now, as `harness_metric` does
# (harness/plugin/metrics.py: the fixtures plugin keeps the running test in the config's stash).
SHARED_CONFTEST = """\
import json

import pytest

RUNNING = pytest.StashKey()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item, nextitem):
    item.config.stash[RUNNING] = item
    try:
        return (yield)
    finally:
        item.config.stash[RUNNING] = None


@pytest.fixture(scope="session")
def recorder(request):
    def record(name, *values):
        figure = json.dumps({"name": name, "unit": "ms", "values": list(values)})
        request.config.stash[RUNNING].user_properties.append(("harness_metric", figure))

    return record


@pytest.fixture(scope="session")
def server(recorder):
    yield
    recorder("session_teardown_ms", 7.0)
"""

SHARED_TESTS = """\
import pytest


@pytest.fixture(scope="module")
def load(recorder, server):
    recorder("warmup_ms", 0.5)
    yield [12.0, 15.5]
    recorder("module_rss_mb", 3.0)


class TestShared:
    @pytest.fixture(scope="class")
    def measured(self):
        return [40.25, 41.0]

    def test_first(self, load, measured, recorder):
        recorder("class_fixture_ms", *measured)

    def test_second(self, load):
        pass


def test_last(load, recorder):
    recorder("connect_ms", *load)
"""

SHARED_EXPECTED = {
    "test_shared.py::TestShared::test_first": [("warmup_ms", (0.5,)), ("class_fixture_ms", (40.25, 41.0))],
    # The module's and the session's fixtures are torn down in the last test's teardown.
    "test_shared.py::test_last": [
        ("connect_ms", (12.0, 15.5)),
        ("module_rss_mb", (3.0,)),
        ("session_teardown_ms", (7.0,)),
    ],
}


@pytest.mark.parametrize(
    "xdist", [(), ("-p", "xdist", "-n", "2", "--dist", "loadfile")], ids=["serial", "xdist"]
)
def test_wide_scoped_fixtures_record_on_the_test_running_then(pytester, monkeypatch, xdist):
    pytester.makeconftest(SHARED_CONFTEST)
    pytester.makepyfile(test_shared=SHARED_TESTS)
    pytester.makeini("[pytest]\naddopts = -p harness.run.plugin\n")
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    records = pytester.path / "records.jsonl"
    monkeypatch.setenv(RECORDS_ENV, str(records))
    pytester.runpytest_subprocess(*xdist).assert_outcomes(passed=3)
    assert _by_test(records) == SHARED_EXPECTED
