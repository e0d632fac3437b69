"""Test order through the session plugin: a seeded shuffle, its replay and an explicit order, run for real."""

import importlib.util
import json
import random

import pytest

from harness.errors import UsageError
from harness.run import order
from harness.run.env import ORDER_ENV, RECORDS_ENV, SHUFFLE_ENV

FILES = {
    "checks/__init__.py": "",
    "checks/test_alpha.py": """
        import pytest

        def test_one(): pass
        def test_two(): pass

        @pytest.mark.parametrize("n", [1, 2, 3])
        def test_many(n): pass

        class TestGroup:
            def test_a(self): pass
            def test_b(self): pass
            def test_c(self): pass
    """,
    "checks/test_beta.py": """
        def test_x(): pass
        def test_y(): pass

        class TestMore:
            def test_p(self): pass
            def test_q(self): pass
    """,
    "checks/test_gamma.py": "def test_g1(): pass\ndef test_g2(): pass\ndef test_g3(): pass\n",
}


@pytest.fixture
def project(pytester, monkeypatch):
    """Three test files with classes and parameters; the session plugin writing records."""
    pytester.makepyfile(**{name: text for name, text in FILES.items()})
    pytester.makeini("[pytest]\naddopts = -p harness.run.plugin -p no:cacheprovider\n")
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")  # only the plugins a test names
    for name in (SHUFFLE_ENV, ORDER_ENV):
        monkeypatch.delenv(name, raising=False)
    return pytester


def _run(pytester, monkeypatch, *args, subprocess=False, **env) -> tuple[list[str], list[dict], object]:
    """Run pytest (in this process, or in a subprocess); the node ids in the order they ran, every
    record, the result."""
    records = pytester.path / f"records-{random.random()}.jsonl"
    monkeypatch.setenv(RECORDS_ENV, str(records))
    for name in (SHUFFLE_ENV, ORDER_ENV):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, str(value))
    result = (pytester.runpytest_subprocess if subprocess else pytester.runpytest)(*args)
    lines = [json.loads(line) for line in records.read_text().splitlines()] if records.exists() else []
    return [r["nodeid"] for r in lines if r["event"] == "test"], lines, result


def _collected(pytester) -> list[str]:
    result = pytester.runpytest("--collect-only", "-q")
    return [line for line in result.outlines if "::" in line]


def test_a_seed_gives_its_own_order_and_the_same_order_again(project, monkeypatch):
    collected = _collected(project)
    first, records, result = _run(project, monkeypatch, **{SHUFFLE_ENV: 1234})
    again, _, _ = _run(project, monkeypatch, **{SHUFFLE_ENV: 1234})
    other, _, _ = _run(project, monkeypatch, **{SHUFFLE_ENV: 99})
    result.assert_outcomes(passed=len(collected))
    assert first == order.shuffled(collected, 1234, nodeid=str) == again
    assert sorted(first) == sorted(collected) and first != collected
    assert other == order.shuffled(collected, 99, nodeid=str) and other != first
    assert {"event": "order", "shuffle_seed": 1234} in records


def test_without_a_seed_the_tests_run_as_collected(project, monkeypatch):
    ran, records, _ = _run(project, monkeypatch)
    assert ran == _collected(project)
    assert {"event": "order"} in records  # nothing reordered them


def test_an_explicit_order_runs_exactly_those_tests_in_that_order(project, monkeypatch):
    wanted = [
        "checks/test_gamma.py::test_g2",
        "checks/test_alpha.py::TestGroup::test_b",
        "checks/test_beta.py::test_x",
    ]
    path = order.write_order(project.path / "order.txt", wanted)
    collected = _collected(project)
    ran, records, result = _run(project, monkeypatch, **{ORDER_ENV: path})
    assert ran == wanted
    result.assert_outcomes(passed=3, deselected=len(collected) - 3)
    assert {"event": "order", "replay": True} in records


def test_a_recorded_order_replays_a_shuffled_run(project, monkeypatch):
    shuffled, _, _ = _run(project, monkeypatch, **{SHUFFLE_ENV: 7})
    path = order.write_order(project.path / "order.txt", shuffled)
    replayed, _, _ = _run(project, monkeypatch, **{ORDER_ENV: path})
    assert replayed == shuffled


@pytest.mark.parametrize(
    ("wanted", "problem"),
    [
        (["checks/test_beta.py::test_nope"], "checks/test_beta.py::test_nope was not collected"),
        (["checks/test_beta.py::test_x", "checks/test_beta.py::test_x"], "is named twice"),
    ],
)
def test_an_order_naming_what_cannot_run_stops_the_session(project, monkeypatch, wanted, problem):
    path = order.write_order(project.path / "order.txt", wanted)
    ran, _, result = _run(project, monkeypatch, **{ORDER_ENV: path})
    assert result.ret == pytest.ExitCode.USAGE_ERROR and ran == []
    assert f"ERROR: {ORDER_ENV}: " in result.stderr.str() and problem in result.stderr.str()
    assert "Traceback" not in result.stderr.str()


def test_a_seed_that_is_not_a_number_stops_the_session(project, monkeypatch):
    _, _, result = _run(project, monkeypatch, **{SHUFFLE_ENV: "soon"})
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert f"{SHUFFLE_ENV}: 'soon' is not a whole number" in result.stderr.str()


def test_pytest_randomly_does_not_shuffle_a_seeded_order_again(project, monkeypatch):
    # Not imported here, and run in subprocesses: pytest-randomly imports numpy, which pytester's inline
    # runs would drop from sys.modules afterwards, and numpy cannot be imported twice in one process.
    if importlib.util.find_spec("pytest_randomly") is None:
        pytest.skip("pytest-randomly is not installed")
    collected = _collected(project)
    ran, _, _ = _run(project, monkeypatch, "-p", "randomly", subprocess=True, **{SHUFFLE_ENV: 1234})
    assert ran == order.shuffled(collected, 1234, nodeid=str)
    _, records, _ = _run(project, monkeypatch, "-p", "randomly", "--randomly-seed=5", subprocess=True)
    assert {"event": "order", "randomly_seed": 5} in records  # its seed, so its order can be replayed


def test_xdist_workers_share_the_seeded_order(project, monkeypatch):
    collected = _collected(project)
    ran, records, result = _run(project, monkeypatch, "-p", "xdist", "-n", "2", **{SHUFFLE_ENV: 1234})
    result.assert_outcomes(passed=len(collected))
    expected = order.shuffled(collected, 1234, nodeid=str)
    workers = {r["worker"] for r in records if r["event"] == "test"}
    assert workers == {"gw0", "gw1"}
    for worker in workers:  # each worker runs its share in the seed's order
        mine = [r["nodeid"] for r in records if r["event"] == "test" and r["worker"] == worker]
        assert mine == sorted(mine, key=expected.index)
    assert sorted(ran) == sorted(collected)


def test_shuffled_keeps_files_and_classes_together_whatever_the_input_order():
    ids = [
        f"t/test_{f}.py::{c}test_{n}" for f in "abcd" for c in ("", "TestK::", "TestL::") for n in range(4)
    ]
    first = order.shuffled(ids, 42, nodeid=str)
    assert order.shuffled(list(reversed(ids)), 42, nodeid=str) == first
    assert sorted(first) == sorted(ids) and first != ids
    groups = [nodeid.rsplit("::", 1)[0] for nodeid in first]
    assert len({g for i, g in enumerate(groups) if i == 0 or groups[i - 1] != g}) == len(set(groups))
    files = [nodeid.split("::")[0] for nodeid in first]
    assert sum(1 for i in range(1, len(files)) if files[i] != files[i - 1]) == 3


def test_order_env_and_seeds():
    assert order.order_env(seed=3) == {SHUFFLE_ENV: "3"}
    assert order.seed_from({SHUFFLE_ENV: " 17 "}) == 17 and order.seed_from({}) is None
    with pytest.raises(UsageError, match="either in a shuffled order or in an explicit one"):
        order.order_env(seed=3, order_file=order.Path("x"))
    with pytest.raises(UsageError, match="-2 is negative"):
        order.seed_from({SHUFFLE_ENV: "-2"})
    assert 0 <= order.new_seed() < 2**order.SEED_BITS
