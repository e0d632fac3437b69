"""A throwaway project with planted instability, and the same project without it, for the stability tests.

Planted (each deterministic, so the tests that find them are too):
- `test_flaky.py::test_one_in_three` fails on every third run, counted in a file (a test that fails one
  time in three);
- `test_leak.py::test_leaves_state` leaves state behind that `test_victim.py::test_expects_clean_state`
  trips over (a pair where one leaks state into the other);
- `test_cache.py::test_uses_warm_cache` needs `test_warm.py::test_warms_cache` to have run before it in
  its process (a test that only fails in a fresh process);
- `calc/race.py`'s branch depends on which of two tasks finishes first, and the test lets them finish in
  an order read from a counted file (a race: unstable coverage, no failing test).
"""

import subprocess
import sys
import textwrap
from pathlib import Path

from harness.run import order

PYPROJECT = """\
[project]
name = "planted"
version = "0"

[tool.pytest.ini_options]
# The tests run it with PYTEST_DISABLE_PLUGIN_AUTOLOAD (start-up in half the time): pytest-cov by name.
addopts = ["-p", "pytest_cov", "-p", "no:cacheprovider"]
"""

STATE = '''\
"""State that tests share through the process."""

LEFT_BEHIND = []
WARM = {"cache": False}


def warm():
    WARM["cache"] = True
'''

RACE = '''\
"""Which of two tasks finishes first decides the branch."""

import asyncio


async def first_of(a, b):
    tasks = [asyncio.ensure_future(a()), asyncio.ensure_future(b())]
    done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    if next(iter(done)).result() == "a":
        return "a won"
    return "b won"
'''

COUNT = '''\
import pathlib


def count(name):
    """How many times this has been called with `name`, across processes (a file beside the tests)."""
    path = pathlib.Path(__file__).with_name(f".{name}.count")
    number = int(path.read_text()) + 1 if path.exists() else 1
    path.write_text(str(number))
    return number
'''

TESTS = {
    "suites/tests/counting.py": COUNT,
    "suites/tests/test_plain.py": """
        from calc import state

        def test_one(): assert state.WARM is not None
        def test_two(): assert True
        def test_three(): assert len("abc") == 3
    """,
    "suites/tests/test_more.py": "def test_four(): pass\ndef test_five(): pass\n",
    "suites/tests/test_race.py": """
        import asyncio

        from calc.race import first_of
        from counting import count

        def steps(n):
            async def task(name):
                for _ in range(n):
                    await asyncio.sleep(0)
                return name
            return task

        def test_first_of_two_tasks():
            a_first = count("race") % 2 == 1  # the first run lets a finish first, the second b, ...
            a, b = (steps(0), steps(3)) if a_first else (steps(3), steps(0))
            result = asyncio.run(first_of(lambda: a("a"), lambda: b("b")))
            assert result in ("a won", "b won")
    """,
}

PLANTED = {
    "suites/tests/test_flaky.py": """
        from counting import count

        def test_one_in_three():
            assert count("flaky") % 3 != 0, "every third run fails"
    """,
    "suites/tests/test_leak.py": """
        from calc import state

        def test_leaves_state():
            state.LEFT_BEHIND.append("mine")
    """,
    "suites/tests/test_victim.py": """
        from calc import state

        def test_expects_clean_state():
            assert state.LEFT_BEHIND == [], "state left behind by an earlier test"
    """,
    "suites/tests/test_warm.py": """
        from calc import state

        def test_warms_cache():
            state.warm()
    """,
    "suites/tests/test_cache.py": """
        from calc import state

        def test_uses_warm_cache():
            assert state.WARM["cache"], "the cache is cold"
    """,
}

FLAKY = "suites/tests/test_flaky.py::test_one_in_three"
LEAKER, VICTIM = (
    "suites/tests/test_leak.py::test_leaves_state",
    "suites/tests/test_victim.py::test_expects_clean_state",
)
WARMER, COLD = (
    "suites/tests/test_warm.py::test_warms_cache",
    "suites/tests/test_cache.py::test_uses_warm_cache",
)
RACE_FILE = "calc/race.py"


def write_project(root: Path, planted: bool = True) -> Path:
    files = {
        "pyproject.toml": PYPROJECT,
        "calc/__init__.py": "",
        "calc/state.py": STATE,
        "calc/race.py": RACE,
    }
    files.update(TESTS)
    if planted:
        files.update(PLANTED)
    else:  # the race settled: the same task always finishes first
        files["suites/tests/test_race.py"] = TESTS["suites/tests/test_race.py"].replace(
            'count("race") % 2 == 1', "True"
        )
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return root


def collected(root: Path) -> list[str]:
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "suites/tests", "--collect-only", "-q"],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    )
    return [line for line in out.stdout.splitlines() if "::" in line]


def telling_seeds(nodeids: list[str]) -> list[int]:
    """Three seeds (the first found from 0) whose orders put the leaker before and after its victim, and
    the warmer before and after the cold test: three shuffled repetitions then show every outcome."""
    first: dict[tuple[bool, bool], int] = {}
    for seed in range(1000):
        ids = order.shuffled(nodeids, seed, nodeid=str)
        first.setdefault((ids.index(LEAKER) < ids.index(VICTIM), ids.index(WARMER) < ids.index(COLD)), seed)
    for pair in (((True, True), (False, False)), ((True, False), (False, True))):
        if all(flags in first for flags in pair):
            seeds = [first[flags] for flags in pair]
            return [*seeds, next(s for s in range(1000) if s not in seeds)]
    raise AssertionError("no seeds tell the planted pairs apart")
