"""The projects of the run-speed benchmark: a copy of the bundled suites, and a generated library."""

import shutil
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

_MODULE = '''\
"""Generated module {n}: small functions with branches, as a utility library has."""


def clamp_{n}(value, low, high):
    if value < low:
        return low
    if value > high:
        return high
    return value


def describe_{n}(items):
    if not items:
        return "empty"
    return ", ".join(str(item) for item in items)


def parity_{n}(number):
    return "even" if number % 2 == 0 else "odd"


class Counter{n}:
    def __init__(self):
        self.counts = {{}}

    def add(self, key):
        self.counts[key] = self.counts.get(key, 0) + 1
        return self.counts[key]
'''

_TEST = """\
import pytest

from many.mod_{n:03d} import Counter{n}, clamp_{n}, describe_{n}, parity_{n}


@pytest.mark.parametrize("value", range({cases}))
def test_clamp(value):
    assert {low} <= clamp_{n}(value, {low}, {high}) <= {high}


@pytest.mark.parametrize("number", range({cases}))
def test_parity(number):
    assert parity_{n}(number) in ("even", "odd")


def test_describe():
    assert describe_{n}([]) == "empty"
    assert describe_{n}([1, 2]) == "1, 2"


class TestCounter:
    def test_counts_each_key(self):
        counter = Counter{n}()
        assert [counter.add("a"), counter.add("a"), counter.add("b")] == [1, 2, 1]
"""


def many_small_tests(root: Path, modules: int = 40, cases: int = 40) -> Path:
    """A library of `modules` modules with 2 * cases + 2 tiny tests each, and a harness spec `many`."""
    package, tests = root / "many", root / "tests"
    package.mkdir(parents=True)
    tests.mkdir()
    (package / "__init__.py").write_text("")
    for n in range(modules):
        (package / f"mod_{n:03d}.py").write_text(_MODULE.format(n=n))
        low, high = n % 7, n % 7 + cases // 2
        text = _TEST.format(n=n, cases=cases, low=low, high=high)
        (tests / f"test_mod_{n:03d}.py").write_text(text)
    (root / "pyproject.toml").write_text('[project]\nname = "many"\nversion = "0"\n')
    spec = root / "suites" / "many" / "module.yml"
    spec.parent.mkdir(parents=True)
    spec.write_text(
        textwrap.dedent(
            """\
            id: many
            title: Many small tests
            source: many
            suites: [tests]
            targets: {"many/*.py": 90}
            overall: 90
            """
        )
    )
    return root


def bundled(root: Path) -> Path:
    """A copy of this repository's app, suites and record, where `harness run module-6.7` works."""
    root.mkdir(parents=True, exist_ok=True)
    skip = shutil.ignore_patterns("__pycache__", ".work", ".hypothesis", "*.sqlite3", ".coverage*")
    for name in ("target_app", "suites", "reports"):
        shutil.copytree(REPO / name, root / name, ignore=skip)
    for name in ("pyproject.toml", "trace.yml", "MAP.md"):
        shutil.copy2(REPO / name, root / name)
    return root
