"""What stability findings do to a module: the lines that block it (or only warn), its status, and the
`stability` section of results.json and of the trace event. Pure functions on plain data.

`assess` is what the one evaluation (`harness.evaluate.evaluation`) asks: the tests' counts (a flaky test
is never passed) and the section; `status` and `reason` are what its `_decide` makes of the blocking lines.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace

from harness.evaluate.outcome_history import ReadyToLeave, SeenFlaky, flaky_across_runs, ready_to_leave
from harness.evaluate.stability import (
    FlakyTest,
    OrderDependent,
    Rules,
    Stability,
    UnstableFile,
    analyse,
    counts,
    quarantine_reason,
)
from harness.measure.repetitions import Repeated
from harness.spec.model import StabilityPolicy
from harness.store.outcome_log import RunOutcomes

UNSTABLE = "unstable"  # the status of a module whose tests or coverage were unstable
LABEL = "Unstable"
OVERRULED = ("complete", "complete_with_variance", "in_progress")  # a failed module stays Failed


@dataclass(frozen=True)
class Verdict:
    blocking: tuple[str, ...]  # each names a test or a file; any keeps the module from Complete
    warnings: tuple[str, ...]  # reported, not gating: `flaky: warn`, quarantined tests, the quarantine itself


def verdict(
    stability: Stability | None,
    policy: StabilityPolicy,
    seen: Sequence[SeenFlaky] = (),
    ready: Sequence[ReadyToLeave] = (),
) -> Verdict:
    """The lines stability findings give. `stability` is None for a run without --repeat; `seen` are the
    tests the outcome history shows flaky at this run's source state (`flaky_across_runs`)."""
    gated: list[str] = []
    held: list[str] = []  # quarantined: reported, never gating
    tests = [(t, flaky_line(t)) for t in stability.flaky] if stability else []
    tests += [(t, dependent_line(t)) for t in stability.order_dependent] if stability else []
    for test, line in tests:
        (held if test.quarantined else gated).append(_quarantined(test.quarantined) + line)
    if stability is not None:
        gated += [unstable_line(f, stability.repetitions) for f in stability.unstable]
    named = {test.test for test, _ in tests}
    for test in seen:
        if test.test not in named:
            reason = quarantine_reason(test.test, policy.quarantine)
            (held if reason else gated).append(_quarantined(reason) + seen_line(test))
    warnings = held + [f"ready to leave quarantine: {r.test} passed {r.streak} runs in a row" for r in ready]
    if stability is not None:
        warnings += [f"quarantine entry {q.test} matches no test that ran" for q in stability.unmatched]
    if policy.flaky == "warn":
        return Verdict((), tuple(gated + warnings))
    return Verdict(tuple(gated), tuple(warnings))


@dataclass(frozen=True)
class Assessment:
    """What a run's stability gives its result: the tests' counts and results.json's `stability` section
    (None when a single run found nothing to say)."""

    tests: dict[str, int]
    section: dict | None


def assess(
    repeated: Repeated,
    policy: StabilityPolicy,
    rules: Rules,
    history: Sequence[RunOutcomes] = (),
    whole_module: bool = True,
) -> Assessment:
    """The repetitions (a plain run's one) analysed, the outcome history at the run's source state (this
    run's record included) read for tests flaky across runs and quarantined tests ready to leave, and the
    verdict. A step's run (not `whole_module`) does not say which quarantine entries matched no test."""
    found = analyse(repeated.repetitions, repeated.reproductions, policy, rules)
    if not whole_module:
        found = replace(found, unmatched=())
    named = {test.test for test in (*found.flaky, *found.order_dependent)}  # this run tells more of them
    seen = tuple(s for s in flaky_across_runs(history, state=repeated.state) if s.test not in named)
    ready = ready_to_leave(history, policy.quarantine)
    outcome = verdict(found, policy, seen, ready)
    shown = repeated.count > 1 or outcome.blocking or outcome.warnings
    doc = section(found, outcome, policy, repeated.state, seen, ready) if shown else None
    return Assessment(counts(repeated.repetitions, policy), doc)


def status(base: str, blocking: Sequence[str]) -> str:
    """`unstable` in place of Complete, Complete with Documented Variance or In Progress when stability
    findings block; Failed (a test that failed in every repetition, a broken session) stays Failed."""
    return UNSTABLE if blocking and base in OVERRULED else base


# What each blocking line begins with (`verdict`'s wording), and how the reason counts it.
_KINDS = (
    ("flaky across runs: ", "flaky test across runs", "flaky tests across runs"),
    ("flaky: ", "flaky test", "flaky tests"),
    ("order-dependent: ", "order-dependent test", "order-dependent tests"),
    ("unstable coverage: ", "file with unstable coverage", "files with unstable coverage"),
)


def reason(blocking: Sequence[str]) -> str:
    """Why a module is Unstable: `2 flaky tests, 1 order-dependent test, 1 file with unstable coverage`."""
    parts = []
    for prefix, one, many in _KINDS:
        number = sum(line.startswith(prefix) for line in blocking)
        if number:
            parts.append(f"{number} {one if number == 1 else many}")
    return ", ".join(parts)


def _quarantined(reason: str | None) -> str:
    return f"quarantined ({reason}): " if reason else ""


def flaky_line(test: FlakyTest) -> str:
    parts = []
    if test.failed:
        parts.append(f"failed in {test.failed} of {test.runs} repetitions")
    if test.rerun_passes:
        parts.append(f"passed only when run again in {test.rerun_passes} of {test.runs}")
    first = test.failures[0].message if test.failures else ""
    return f"flaky: {test.test} {', '.join(parts)}" + (f" ({first})" if first else "")


def dependent_line(test: OrderDependent) -> str:
    runs = len(test.failed_in) + len(test.passed_in)
    culprits = test.order[:-1]
    after = f": {', '.join(culprits)}" if culprits else ""
    failed = f"failed in {len(test.failed_in)} of {runs} repetitions"
    return f"order-dependent: {test.test} {failed}, {test.note}{after}"


def unstable_line(file: UnstableFile, repetitions: int) -> str:
    covered = []
    if file.lines:
        covered.append(f"{'line' if len(file.lines) == 1 else 'lines'} {spans(file.lines)}")
    if file.branches:
        arcs = ", ".join(arc_text(arc) for arc in file.branches)
        covered.append(f"{'branch' if len(file.branches) == 1 else 'branches'} {arcs}")
    text = f"unstable coverage: {file.path} {' and '.join(covered)} covered in some repetitions only"
    text += f" ({file.low:.1f}% to {file.high:.1f}%)"
    if file.met_in is not None and 0 < len(file.met_in) < repetitions:
        text += f"; target met in {len(file.met_in)} of {repetitions} repetitions only"
    return text


def seen_line(test: SeenFlaky) -> str:
    return (
        f"flaky across runs: {test.test} passed in {test.passed} and failed in {test.failed} of {test.runs} "
        f"runs at source state {test.state[:12]}"
    )


def spans(lines) -> str:
    """`3-5, 9` for lines 3, 4, 5 and 9."""
    ordered, found = sorted(lines), []
    for line in ordered:
        if found and line == found[-1][1] + 1:
            found[-1][1] = line
        else:
            found.append([line, line])
    return ", ".join(f"{a}-{b}" if a != b else str(a) for a, b in found)


def arc_text(arc: tuple[int, int]) -> str:
    """A branch as coverage.py writes it: `12->14`, or `12->exit` for a jump out of the function."""
    start, end = arc
    return f"{start}->{end if end > 0 else 'exit'}"


def section(
    stability: Stability | None,
    found: Verdict,
    policy: StabilityPolicy,
    state: str,
    seen: Sequence[SeenFlaky] = (),
    ready: Sequence[ReadyToLeave] = (),
) -> dict:
    """results.json's `stability` section (JSON types only)."""
    doc: dict = {"repetitions": stability.repetitions if stability else 1, "state": state}
    if stability is not None:
        doc["seeds"] = list(stability.seeds)
        doc["flaky"] = [asdict(test) for test in stability.flaky]
        doc["order_dependent"] = [asdict(test) for test in stability.order_dependent]
        doc["unstable_files"] = [_unstable(file) for file in stability.unstable]
        doc["unmatched_quarantine"] = [asdict(q) for q in stability.unmatched]
    doc["seen_flaky"] = [asdict(test) for test in seen]
    doc["ready_to_leave"] = [asdict(test) for test in ready]
    doc["stable"] = not (found.blocking or found.warnings) and not (stability and not stability.stable)
    doc["policy"] = {
        "flaky": policy.flaky,
        "reruns": policy.reruns,
        "quarantine": [asdict(q) for q in policy.quarantine],
    }
    doc["blocking"], doc["warnings"] = list(found.blocking), list(found.warnings)
    return _lists(doc)


def _unstable(file: UnstableFile) -> dict:
    return {
        "path": file.path,
        "lines": {str(line): count for line, count in file.lines.items()},
        "branches": {arc_text(arc): count for arc, count in file.branches.items()},
        "percents": list(file.percents),
        "low": file.low,
        "high": file.high,
        "met_in": list(file.met_in) if file.met_in is not None else None,
    }


def _lists(value):
    """Tuples as lists all the way down, as json.dumps writes them: a result read back compares equal."""
    if isinstance(value, dict):
        return {key: _lists(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_lists(item) for item in value]
    return value
