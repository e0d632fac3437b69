"""The stability section as a reader sees it: rendered against a gold file, inside the completion report,
and on the terminal."""

import json

from harness.evaluate import stability_verdict as verdicts
from harness.evaluate.outcome_history import ReadyToLeave, SeenFlaky
from harness.evaluate.stability import analyse
from harness.measure.repetitions import Attempt, Repetition, TestRun
from harness.report import markdown
from harness.report import stability as stability_report
from harness.run.bisect import Reproduction
from harness.spec.model import Quarantined, StabilityPolicy, Target
from tests.harness.evaluate.test_stability import _race
from tests.harness.report.goldtest import GOLD, compare

STATE = "0123456789abcdef0123456789abcdef01234567+fedcba9876543210"

FLAKY, RERUN, QUIET = "t/test_net.py::test_retry", "t/test_io.py::test_write", "t/test_clock.py::test_tick"
LEAKER, VICTIM, COLD = "t/test_db.py::test_insert", "t/test_db.py::test_count", "t/test_cache.py::test_warm"


def _doc() -> dict:
    """Every part of the section: flaky (failed, passed only when run again, quarantined), order-dependent
    (after a leak, alone), unstable coverage with a target met in some repetitions, history, quarantine."""
    boom = "AssertionError: assert 2 == 3"
    again = TestRun(
        "passed", reruns=(Attempt("errors", "ConnectionError: reset", "E   ConnectionError: reset"),)
    )
    reps = []
    for n in (1, 2, 3):
        failing = n == 2
        tests = {
            LEAKER: TestRun("passed"),
            VICTIM: TestRun("failed", boom, f"E   {boom}") if failing else TestRun("passed"),
            COLD: TestRun("failed", "AssertionError: cold", "E   cold") if n == 3 else TestRun("passed"),
            FLAKY: TestRun("failed", "TimeoutError: 5 s", "E   TimeoutError: 5 s")
            if n != 1
            else TestRun("passed"),
            RERUN: again if n == 1 else TestRun("passed"),
            QUIET: TestRun("errors", "RuntimeError: tick", "E   tick") if n == 1 else TestRun("passed"),
        }
        race = (
            _race({1, 2, 3, 4, 5, 9, 10}, {(4, 5)}) if n != 2 else _race({1, 2, 3, 4, 7, 8, 9, 10}, {(4, 7)})
        )
        order = {"1": tuple(tests)}
        reps.append(Repetition(n, tests, order, {"pkg/race.py": race}, seed=1000 + n))
    policy = StabilityPolicy(quarantine=(Quarantined("t/test_clock.py", "waits on the wall clock"),))
    reproduced = {
        VICTIM: Reproduction(
            VICTIM, (LEAKER, VICTIM), 5, True, "fails after 1 test of the 3 tests that ran before it"
        ),
        COLD: Reproduction(
            COLD, (COLD,), 3, True, "fails when run alone, in a fresh process; passes after tests"
        ),
        FLAKY: Reproduction(
            FLAKY, (), 1, False, "replaying the 3 tests that ran before it, in order, did not fail it again"
        ),
    }
    found = analyse(reps, reproduced, policy, lambda path: [Target(path, percent=70.0)])
    seen = [SeenFlaky("t/test_api.py::test_get", STATE, 3, 1, 4, "2025-03-04T05:06:07+00:00")]
    ready = [ReadyToLeave("t/test_old.py::test_slow", "was slow", 12)]
    outcome = verdicts.verdict(found, policy, seen, ready)
    return verdicts.section(found, outcome, policy, STATE, seen, ready)


def test_the_section_matches_gold():
    compare(stability_report.render(_doc()), "stability.md")


def test_the_completion_report_carries_the_section_and_the_unstable_status():
    result = json.loads((GOLD / "in_progress.results.json").read_text(encoding="utf-8"))
    doc = _doc()
    result.update(status=verdicts.status(result["status"], doc["blocking"]), stability=doc)
    report = markdown.completion_status(result)
    assert "**Status**: ⚠️ Unstable" in report
    assert stability_report.render(doc).strip() in report
    summary = markdown.github_summary(result)
    assert summary.startswith(f"### {result['module']}: ⚠️ Unstable")
    listed = [line[2:] for line in summary.splitlines() if line.startswith("- ")]
    assert listed == doc["blocking"]  # the CI summary names what blocks, a line each
    del result["stability"]
    assert "## Stability" not in markdown.completion_status({**result, "status": "in_progress"})
    assert "Stability findings" not in markdown.github_summary({**result, "status": "in_progress"})


def test_flaky_and_quarantined_tests_are_counted_apart_from_passed():
    counts = {"passed": 5, "failed": 0, "skipped": 1, "errors": 0, "flaky": 2, "quarantined": 1}
    assert markdown.tests_line(counts) == "5 passed, 0 failed, 1 skipped, 0 errors, 2 flaky, 1 quarantined"
    assert markdown.tests_line({**counts, "flaky": 0}, compact=True) == (
        "5 passed, 0 failed, 1 skipped, 1 quarantined"
    )
    older = {"passed": 5, "failed": 0, "skipped": 1, "errors": 0}  # a result from before they were counted
    assert markdown.tests_line(older) == "5 passed, 0 failed, 1 skipped, 0 errors"


def test_the_terminal_names_what_blocks_and_the_seeds():
    lines = stability_report.terminal_lines(_doc())
    assert lines[0] == (
        "Stability (3 repetitions): UNSTABLE: 4 flaky tests, 2 order-dependent tests, "
        "3 unstable lines and 2 unstable branches in 1 file"
    )
    assert any(line.startswith("  BLOCKING order-dependent: t/test_db.py::test_count") for line in lines)
    assert any(line.startswith("  warning  quarantined (waits on the wall clock): flaky: ") for line in lines)
    assert lines[-1] == "  seeds: 1001, 1002, 1003 (HARNESS_SHUFFLE_SEED replays one)"


def test_the_sites_few_words_say_stable_or_what_was_found():
    policy = StabilityPolicy()
    race = _race({1, 2, 3, 4, 5, 9, 10}, {(4, 5)})
    reps = [Repetition(n, {FLAKY: TestRun("passed")}, {"1": (FLAKY,)}, {"pkg/race.py": race}) for n in (1, 2)]
    steady = analyse(reps, {}, policy, lambda path: [])
    repeated = verdicts.section(steady, verdicts.verdict(steady, policy), policy, STATE)
    plain = verdicts.section(None, verdicts.verdict(None, policy), policy, STATE)
    assert [stability_report.summary(doc) for doc in (repeated, plain)] == [
        "stable (2 repetitions)",
        "stable",
    ]
    assert stability_report.summary(_doc()) == (
        "unstable: 4 flaky tests, 2 order-dependent tests, 3 unstable lines and 2 unstable branches in 1 file"
    )
