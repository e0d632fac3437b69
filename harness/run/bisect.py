"""The shortest test order that reproduces an order-dependent failure.

A test that failed in one repetition and passed in another may fail because of what ran before it in
its process. Replaying those tests and it, in their order, tells whether the order is to blame; cutting
them down by delta debugging (Zeller's ddmin: halves, then quarters, ... and their complements) finds
the few it needs: usually one test that leaks state, or none when the test fails alone, in a fresh
process. `fails(order)` runs an order (its last test is the one watched) and says whether that test
failed; `harness.run.replay.pytest_replay` is one that runs pytest for real.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

Fails = Callable[[tuple[str, ...]], bool]

BUDGET = 24  # replays per test to find the order: ddmin needs about 2·log2(n) for one culprit in n
CONFIRM = 2  # replays of the shortest order that must fail again before it is called a reproduction


@dataclass(frozen=True)
class Reproduction:
    """What replaying a failing test's order found."""

    test: str
    order: tuple[str, ...]  # the shortest order found that fails the test (it comes last); () for none
    runs: int  # pytest sessions it took
    minimal: bool  # no test of `order` could be left out (False when the budget ran out first)
    note: str  # what a reader is told

    @property
    def reproduced(self) -> bool:
        return bool(self.order)


class _OutOfRuns(Exception):
    pass


class _Probe:
    """Asks `fails` about `before`-subsets plus the test, once each, within a budget."""

    def __init__(self, test: str, fails: Fails, budget: int):
        self.test, self.fails, self.budget = test, fails, budget
        self.known: dict[tuple[str, ...], bool] = {}
        self.runs = 0

    def __call__(self, subset: tuple[str, ...]) -> bool:
        if subset not in self.known:
            if self.runs >= self.budget:
                raise _OutOfRuns
            self.runs += 1
            self.known[subset] = self.fails((*subset, self.test))
        return self.known[subset]


def shortest_order(
    test: str, before: Sequence[str], fails: Fails, budget: int = BUDGET, confirm: int = CONFIRM
) -> Reproduction:
    """Replay `before` + `test`; if the test fails again, cut `before` down to the tests it needs."""
    probe = _Probe(test, fails, budget)
    before = tuple(before)
    if not probe(before):
        return Reproduction(test, (), probe.runs, False, _not_again(len(before)))
    culprits, minimal = ddmin(before, probe)
    probe.budget = probe.runs + confirm
    for _ in range(confirm):  # a test that fails one time in three must not pass for order-dependent
        probe.known.pop(culprits, None)
        if not probe(culprits):
            note = "failed again in the order it failed in, then passed in that same order: not deterministic"
            return Reproduction(test, (), probe.runs, False, note)
    return Reproduction(test, (*culprits, test), probe.runs, minimal, _found(culprits, len(before), minimal))


def ddmin(items: tuple[str, ...], fails: Callable[[tuple[str, ...]], bool]) -> tuple[tuple[str, ...], bool]:
    """The smallest subsequence of `items` found for which `fails` holds (it holds for `items`), and whether
    it is 1-minimal. The empty subsequence is tried first: a test that fails alone needs no other."""
    try:
        if not items or fails(()):
            return (), True
        chunks = 2
        while len(items) > 1:
            parts = _split(items, chunks)
            smaller = next((part for part in parts if fails(part)), None)
            if smaller is not None:
                items, chunks = smaller, 2
                continue
            rests = [_without(parts, i) for i in range(len(parts))] if chunks > 2 else []
            rest = next((r for r in rests if fails(r)), None)
            if rest is not None:
                items, chunks = rest, max(chunks - 1, 2)
            elif chunks >= len(items):
                break
            else:
                chunks = min(len(items), chunks * 2)
        return items, True
    except _OutOfRuns:
        return items, False


def _split(items: tuple[str, ...], count: int) -> list[tuple[str, ...]]:
    size, extra = divmod(len(items), count)
    parts, start = [], 0
    for index in range(count):
        end = start + size + (index < extra)
        parts.append(items[start:end])
        start = end
    return [part for part in parts if part]


def _without(parts: list[tuple[str, ...]], index: int) -> tuple[str, ...]:
    return tuple(itertools.chain.from_iterable(p for i, p in enumerate(parts) if i != index))


def _tests(count: int) -> str:
    return f"{count} test" if count == 1 else f"{count} tests"


def _not_again(before: int) -> str:
    if not before:
        return "it ran first in its process when it failed, and passed when run alone again"
    return f"replaying the {_tests(before)} that ran before it, in order, did not fail it again"


def _found(culprits: tuple[str, ...], before: int, minimal: bool) -> str:
    if not culprits:
        return "fails when run alone, in a fresh process; passes after tests that ran before it elsewhere"
    text = f"fails after {_tests(len(culprits))} of the {_tests(before)} that ran before it"
    return text if minimal else f"{text} (bisecting ran out of replays: shorter, perhaps not shortest)"


def reproduce(suspects: Sequence[tuple[str, Sequence[str]]], fails: Fails, budget: int = BUDGET) -> dict:
    """`{test: Reproduction}` for each `(test, the tests that ran before it when it failed)`."""
    return {test: shortest_order(test, before, fails, budget) for test, before in suspects}
