"""Each run's test outcomes, kept compactly and keyed by the source state they ran at, read back to find
a test that passed and failed at the same source state in separate runs (CI retries, shards, other
machines' runs combined), and quarantined tests that have passed long enough to leave quarantine.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from harness.evaluate.stability import outcomes_by_test, overall, quarantine_reason
from harness.measure.repetitions import Repetition
from harness.spec.model import Quarantined
from harness.store.outcome_log import RunOutcomes

FAILING = ("failed", "errors", "flaky")
RELEASE_AFTER = 10  # passing runs in a row after which a quarantined test is reported ready to leave


def from_repetitions(reps: Sequence[Repetition], state: str, at: str, run: str = "") -> RunOutcomes:
    """A run's record: each test's outcome over its repetitions (one for a plain run), `flaky` when it
    passed in one and failed in another or passed only when run again (`stability.overall`)."""
    return RunOutcomes(state, at, {test: overall(runs) for test, runs in outcomes_by_test(reps).items()}, run)


@dataclass(frozen=True)
class SeenFlaky:
    """A test that passed and failed at one source state, across the runs recorded there."""

    test: str
    state: str
    passed: int  # runs it passed in
    failed: int  # runs it failed or errored in (a run in which it was flaky counts in both)
    runs: int  # runs at that state that ran it
    last_failed_at: str


def flaky_across_runs(records: Sequence[RunOutcomes], state: str | None = None) -> tuple[SeenFlaky, ...]:
    """Tests that passed in one run and failed in another at the same source state (only `state`'s runs
    when given). A run in which a test was flaky already shows both."""
    tally: dict[tuple[str, str], list] = {}
    for record in records:
        if state is not None and record.state != state:
            continue
        for test, outcome in record.outcomes.items():
            entry = tally.setdefault((record.state, test), [0, 0, 0, ""])
            entry[0] += outcome in ("passed", "flaky")
            entry[1] += outcome in FAILING
            entry[2] += 1
            if outcome in FAILING:
                entry[3] = max(entry[3], record.at)
    found = [
        SeenFlaky(test, at_state, passed, failed, runs, last)
        for (at_state, test), (passed, failed, runs, last) in tally.items()
        if passed and failed
    ]
    return tuple(sorted(found, key=lambda seen: (seen.state, seen.test)))


@dataclass(frozen=True)
class ReadyToLeave:
    test: str
    reason: str  # why it was quarantined
    streak: int  # runs in a row it passed, the latest included


def ready_to_leave(
    records: Sequence[RunOutcomes], quarantine: Sequence[Quarantined], after: int = RELEASE_AFTER
) -> tuple[ReadyToLeave, ...]:
    """Quarantined tests whose latest `after` (or more) runs that ran them all passed (in time order;
    a run that did not run a test, or skipped it, neither counts nor breaks the streak)."""
    streaks: dict[str, int] = {}
    broken: set[str] = set()
    for record in reversed(sorted(records, key=lambda r: r.at)):
        for test, outcome in record.outcomes.items():
            if test in broken or outcome == "skipped" or quarantine_reason(test, quarantine) is None:
                continue
            if outcome == "passed":
                streaks[test] = streaks.get(test, 0) + 1
            else:
                broken.add(test)
    ready = [
        ReadyToLeave(test, quarantine_reason(test, quarantine) or "", streak)
        for test, streak in sorted(streaks.items())
        if streak >= after
    ]
    return tuple(ready)
