"""Stability from repeated runs: flaky tests, order-dependent tests and unstable coverage, pure functions.

A test is flaky when it passed in one repetition and failed or errored in another, or passed only when
pytest-rerunfailures ran it again. It is order-dependent when replaying the order it failed in fails it
again (`harness.run.bisect` finds the shortest such order). A file's coverage is unstable when a line or
a branch was covered in some repetitions and not others; the gate judges a file by its lowest figure.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from harness.evaluate.targets import shortfalls
from harness.measure.repetitions import Repetition, TestRun
from harness.run.bisect import Reproduction
from harness.spec.model import Quarantined, StabilityPolicy, Target

_EXCEPTION = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Warning|Failed))\b")
Rules = Callable[[str], Sequence[Target]]  # the targets that gate a file (`targets.constraints`)
DETAILS_CHARS = 4000  # of a failure's full text kept for the report; the rest is in the run's pytest.log


@dataclass(frozen=True)
class Failure:
    """The first failure of one kind (outcome and exception) and how often that kind occurred."""

    kind: str  # e.g. `failed: AssertionError`
    message: str
    details: str
    repetition: int
    count: int


@dataclass(frozen=True)
class FlakyTest:
    test: str
    runs: int  # repetitions that ran it
    failed: int  # repetitions whose final outcome was failed or errors
    rerun_passes: int  # repetitions in which it failed, ran again and passed
    failures: tuple[Failure, ...]
    quarantined: str | None = None  # the spec's reason, when it is quarantined
    replay: str = ""  # what replaying the order it failed in showed, when it was replayed


@dataclass(frozen=True)
class OrderDependent:
    test: str
    failed_in: tuple[int, ...]  # repetition numbers
    passed_in: tuple[int, ...]
    failures: tuple[Failure, ...]
    order: tuple[str, ...]  # the shortest order found that fails it (it comes last)
    minimal: bool
    note: str
    quarantined: str | None = None


@dataclass(frozen=True)
class UnstableFile:
    path: str
    lines: Mapping[int, int]  # each line covered in some repetitions only -> in how many
    branches: Mapping[tuple[int, int], int]  # each such branch arc -> in how many
    percents: tuple[float, ...]  # per repetition, in order
    met_in: tuple[int, ...] | None  # repetitions in which the file met its gating targets; None: no target

    @property
    def low(self) -> float:
        return min(self.percents)

    @property
    def high(self) -> float:
        return max(self.percents)


@dataclass(frozen=True)
class Stability:
    """What N repetitions showed."""

    repetitions: int
    seeds: tuple[int | None, ...]
    flaky: tuple[FlakyTest, ...]
    order_dependent: tuple[OrderDependent, ...]
    unstable: tuple[UnstableFile, ...]
    unmatched: tuple[Quarantined, ...] = ()  # quarantine entries that matched no test that ran

    @property
    def stable(self) -> bool:
        return not (self.flaky or self.order_dependent or self.unstable)


def quarantine_reason(test: str, quarantine: Sequence[Quarantined]) -> str | None:
    """The reason of the first entry naming `test`: its node id, a path it lies under, or a glob (`*` spans
    `/` and `::`; `[` is literal, as parameter ids use it)."""
    for entry in quarantine:
        if _names(test, entry.test):
            return entry.reason
    return None


def _names(test: str, pattern: str) -> bool:
    if test == pattern or test.startswith((f"{pattern}/", f"{pattern}::", f"{pattern}[")):
        return True
    return fnmatch.fnmatchcase(test, pattern.replace("[", "[[]"))


def outcomes_by_test(reps: Sequence[Repetition]) -> dict[str, list[tuple[int, TestRun]]]:
    """Each test's runs, as `(repetition number, run)`, in the order of the repetitions."""
    runs: dict[str, list[tuple[int, TestRun]]] = {}
    for rep in reps:
        for test, run in rep.tests.items():
            runs.setdefault(test, []).append((rep.number, run))
    return runs


def suspects(reps: Sequence[Repetition]) -> list[tuple[str, tuple[str, ...]]]:
    """Tests to replay: each that failed in one repetition and passed in another, with the tests that ran
    before it in its process the first time it failed (for `harness.run.bisect.reproduce`)."""
    found = []
    by_number = {rep.number: rep for rep in reps}
    for test, runs in outcomes_by_test(reps).items():
        failed = [number for number, run in runs if run.failed]
        if failed and any(run.outcome == "passed" for _, run in runs):
            found.append((test, by_number[failed[0]].before(test)))
    return found


def failures(runs: Sequence[tuple[int, TestRun]]) -> tuple[Failure, ...]:
    """The first failure of each kind among a test's runs (failed attempts before a re-run included)."""
    seen: dict[str, Failure] = {}
    for number, run in runs:
        attempts = [(a.outcome, a.message, a.details) for a in run.reruns]
        if run.failed:
            attempts.append((run.outcome, run.message, run.details))
        for outcome, message, details in attempts:
            kind = f"{outcome}: {_exception(message)}"
            first = seen.get(kind)
            if first is None:
                seen[kind] = Failure(kind, message, details[:DETAILS_CHARS], number, 1)
            else:
                seen[kind] = Failure(kind, first.message, first.details, first.repetition, first.count + 1)
    return tuple(seen.values())


def _exception(message: str) -> str:
    """The exception a failure message names (`AssertionError: ...`), else the message itself."""
    match = _EXCEPTION.match(message)
    return match.group(1) if match else message


def analyse(
    reps: Sequence[Repetition],
    reproductions: Mapping[str, Reproduction],
    policy: StabilityPolicy,
    rules: Rules = lambda path: (),
) -> Stability:
    """Flaky and order-dependent tests and unstable files from the repetitions (in order) and the replays of
    `suspects(reps)`; `rules(path)` are the targets a file is gated by (`targets.constraints`)."""
    flaky, dependent = [], []
    for test, runs in outcomes_by_test(reps).items():
        reason = quarantine_reason(test, policy.quarantine)
        failed = [n for n, run in runs if run.failed]
        passed = [n for n, run in runs if run.outcome == "passed" and not run.reruns]
        rerun_passes = sum(run.passed_after_failing for _, run in runs)
        if not rerun_passes and not (failed and passed):
            continue
        found = reproductions.get(test)
        if found is not None and found.reproduced:
            dependent.append(
                OrderDependent(
                    test,
                    tuple(failed),
                    tuple(passed),
                    failures(runs),
                    found.order,
                    found.minimal,
                    found.note,
                    reason,
                )
            )
        else:
            replay = found.note if found is not None else ""
            counted = (len(runs), len(failed), rerun_passes)
            flaky.append(FlakyTest(test, *counted, failures(runs), reason, replay))
    ran = {test for rep in reps for test in rep.tests}
    unmatched = tuple(q for q in policy.quarantine if not any(_names(test, q.test) for test in ran))
    seeds = tuple(rep.seed for rep in reps)
    return Stability(len(reps), seeds, tuple(flaky), tuple(dependent), unstable_files(reps, rules), unmatched)


def unstable_files(
    reps: Sequence[Repetition], rules: Callable[[str], Sequence[Target]]
) -> tuple[UnstableFile, ...]:
    """Files whose covered lines or branches differ between repetitions, with each repetition's percent."""
    found = []
    for path in sorted({path for rep in reps for path in rep.files}):
        covers = [rep.files.get(path) for rep in reps]
        lines = _counts([c.executed & c.statements if c else frozenset() for c in covers])
        branches = _counts([c.taken & c.branches if c else frozenset() for c in covers])
        if not lines and not branches:
            continue
        percents = tuple(c.percent if c else 0.0 for c in covers)
        gating = [t for t in rules(path) if not t.warn_only]
        met_in = None
        if gating:
            met_in = tuple(
                rep.number for rep, c in zip(reps, covers, strict=True) if c and _meets(c.figures(), gating)
            )
        found.append(UnstableFile(path, lines, branches, percents, met_in))
    return tuple(found)


def _counts(covered: list[frozenset]) -> dict:
    """Each item covered in some of the sets but not all -> in how many."""
    every = frozenset.intersection(*covered) if covered else frozenset()
    counts: dict = {}
    for items in covered:
        for item in items - every:
            counts[item] = counts.get(item, 0) + 1
    return dict(sorted(counts.items()))


def _meets(figures: dict, gating: Sequence[Target]) -> bool:
    return not any(shortfalls(figures, target) for target in gating)


def overall(runs: Sequence[tuple[int, TestRun]]) -> str:
    """A test's outcome over its repetitions: `flaky` when it passed in one and failed or errored in another,
    or passed only when run again; else `failed` / `errors` when it failed in each, else passed or skipped."""
    seen = {run.outcome for _, run in runs}
    failing = seen & {"failed", "errors"}
    if any(run.passed_after_failing for _, run in runs) or (failing and "passed" in seen):
        return "flaky"
    if failing:
        return "failed" if "failed" in failing else "errors"
    return "passed" if "passed" in seen else "skipped"


def counts(reps: Sequence[Repetition], policy: StabilityPolicy) -> dict[str, int]:
    """Tests by `overall` outcome: a flaky test is never passed, and a quarantined test that failed or was
    flaky is `quarantined`, never failed (its failures do not gate)."""
    tally = dict.fromkeys(("passed", "failed", "skipped", "errors", "flaky", "quarantined"), 0)
    for test, runs in outcomes_by_test(reps).items():
        outcome = overall(runs)
        if outcome in ("failed", "errors", "flaky") and quarantine_reason(test, policy.quarantine):
            outcome = "quarantined"
        tally[outcome] += 1
    return tally
