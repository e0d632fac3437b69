"""Which tests run for a mutant, and for how long: coverage.py's per-test contexts and test durations."""

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

IMPORT_TIME = ""  # coverage.py's context for lines run outside any test (imports during collection)


@dataclass(frozen=True)
class Timing:
    """A mutant may run `factor` times its tests' recorded time plus pytest's start-up, plus `slack`."""

    factor: float = 3.0
    slack: float = 2.0


@dataclass(frozen=True)
class LineTests:
    """Per measured file, per line, the node ids whose setup, call or teardown ran it; the duration of
    every test of the mapping run that passed (the tests a mutant may use)."""

    lines: dict[str, dict[int, frozenset[str]]]
    durations: dict[str, float]
    overhead: float

    def covering(
        self, file: str, span: tuple[int, int], users: frozenset[int] = frozenset()
    ) -> tuple[str, ...]:
        """The tests for a mutant on lines `span` of `file`, fastest first; () when none ran them.

        A line run at import time (module constants, class attributes, `def` lines) is covered by
        every test that ran any line of the file, also when some test ran it again (one that
        re-imports the module): the import is what they all share. A file of which no test ran a
        line (a routing table, a module of constants) was imported for all of them: every test of
        the run covers it. The tests that ran `users` (the lines that read what
        the mutated line binds) go first, as the likely killers, so `-x` stops early; the set of
        tests is the same.
        """
        by_line = self.lines.get(file, {})
        found = self._union(by_line, range(span[0], span[1] + 1))
        first: set[str] = set()
        if IMPORT_TIME in found:
            found = self._union(by_line, by_line)
            first = self._union(by_line, users) - {IMPORT_TIME}
            if found == {IMPORT_TIME}:
                found = set(self.durations)
        found.discard(IMPORT_TIME)
        return (*self._fastest(first), *self._fastest(found - first))

    def ran_outside_tests(self, file: str, span: tuple[int, int]) -> bool:
        """Whether a line of `span` ran outside any test (at import or collection, in the mapping run)."""
        by_line = self.lines.get(file, {})
        return any(IMPORT_TIME in by_line.get(line, ()) for line in range(span[0], span[1] + 1))

    @staticmethod
    def _union(by_line: dict, lines) -> set[str]:
        return {t for line in lines for t in by_line.get(line, ())}

    def _fastest(self, tests: set[str]) -> list[str]:
        return sorted(tests, key=lambda t: (self.durations.get(t, 0.0), t))

    def timeout(self, tests: tuple[str, ...], timing: Timing) -> float:
        """Seconds a mutant's run may take before it counts as `timeout`."""
        spent = sum(self.durations.get(t, 0.0) for t in tests)
        return timing.factor * (self.overhead + spent) + timing.slack


class Naming:
    """Puts first the tests whose file names the mutated function (or its class): a test that calls
    a function directly is its likeliest killer, where the hundreds of tests that reach it through
    the whole stack mostly pass. Only the order changes, never the set; with `stages` (execute.py) a
    killed mutant then stops after a few tests instead of after most of them."""

    def __init__(self, root: Path):
        self.root = root
        self.texts: dict[str, str] = {}

    def first(self, tests: tuple[str, ...], words: Iterable[str]) -> tuple[str, ...]:
        words = [w for w in words if w.isidentifier() and not (w.startswith("__") and w.endswith("__"))]
        if not words:
            return tests
        pattern = re.compile(r"\b(?:" + "|".join(map(re.escape, words)) + r")\b")
        files = {test.split("::")[0] for test in tests}
        naming = {f for f in files if pattern.search(self._text(f))}
        named = [t for t in tests if t.split("::")[0] in naming]
        return (*named, *(t for t in tests if t.split("::")[0] not in naming))

    def _text(self, test_file: str) -> str:
        if test_file not in self.texts:
            try:
                self.texts[test_file] = (self.root / test_file).read_text(encoding="utf-8", errors="replace")
            except OSError:
                self.texts[test_file] = ""
        return self.texts[test_file]


def mutant_words(function: str | None) -> tuple[str, ...]:
    """What a test that exercises the mutated function directly would name: the parts of its
    qualified name (`Class.method`). A module- or class-level line has none: its likely killers are
    the tests that ran the lines using what it binds (`LineTests.covering`'s `users`)."""
    return tuple(function.split(".")) if function else ()
