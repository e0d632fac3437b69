"""Stability on plain data: flaky and order-dependent tests, unstable coverage, quarantine, verdicts."""

import json

import pytest

from harness.evaluate import stability_verdict as verdicts
from harness.evaluate.outcome_history import ReadyToLeave, SeenFlaky
from harness.evaluate.stability import (
    analyse,
    counts,
    quarantine_reason,
    suspects,
    unstable_files,
)
from harness.measure.repetitions import Attempt, FileCoverage, Repetition, TestRun, lowest_figures
from harness.run.bisect import Reproduction
from harness.spec.model import Quarantined, StabilityPolicy, Target
from harness.store import trace

A, B, C, D = (f"t/test_{name}.py::test_{name}" for name in "abcd")
PASS = TestRun("passed")


def fail(message="AssertionError: boom", outcome="failed", process="1"):
    return TestRun(outcome, message, f"details of {message}", process)


def rep(number, tests, files=None, seed=None):
    """A repetition; each process ran its tests in the order the mapping lists them."""
    order = {}
    for test, run in tests.items():
        order.setdefault(run.process, []).append(test)
    return Repetition(number, tests, {p: tuple(ids) for p, ids in order.items()}, files or {}, seed)


def cover(statements, executed, branches=(), taken=()):
    """One file's coverage with coverage.py's percent: covered lines and branches over all of them."""
    statements, branches = frozenset(statements), frozenset(branches)
    executed, taken = frozenset(executed) & statements, frozenset(taken) & branches
    total = len(statements) + len(branches)
    return FileCoverage(
        statements,
        executed,
        branches,
        taken,
        percent=100.0 * (len(executed) + len(taken)) / total,
        lines_percent=100.0 * len(executed) / len(statements),
        branches_percent=100.0 * len(taken) / len(branches) if branches else None,
    )


POLICY = StabilityPolicy()


def test_a_test_that_passed_and_failed_is_flaky_with_the_first_failure_of_each_kind():
    reps = [
        rep(1, {A: PASS, B: PASS}),
        rep(2, {A: fail("AssertionError: assert 1 == 2"), B: PASS}),
        rep(3, {A: fail("AssertionError: assert 3 == 2"), B: PASS}),
        rep(4, {A: fail("RuntimeError: no port", "errors"), B: PASS}),
    ]
    found = analyse(reps, {}, POLICY)
    assert [(t.test, t.runs, t.failed, t.rerun_passes) for t in found.flaky] == [(A, 4, 3, 0)]
    assert [(f.kind, f.count, f.repetition, f.message) for f in found.flaky[0].failures] == [
        ("failed: AssertionError", 2, 2, "AssertionError: assert 1 == 2"),
        ("errors: RuntimeError", 1, 4, "RuntimeError: no port"),
    ]
    assert found.flaky[0].failures[0].details == "details of AssertionError: assert 1 == 2"
    assert not found.stable and found.order_dependent == () and found.unstable == ()


def test_a_pass_after_a_failed_attempt_is_flaky_never_passed():
    rerun = TestRun("passed", reruns=(Attempt("failed", "AssertionError: first try", "..."),))
    reps = [rep(1, {A: rerun, B: PASS})]
    found = analyse(reps, {}, POLICY)
    assert [(t.test, t.failed, t.rerun_passes) for t in found.flaky] == [(A, 0, 1)]
    assert found.flaky[0].failures[0].kind == "failed: AssertionError"
    assert counts(reps, POLICY) == {
        "passed": 1,
        "failed": 0,
        "skipped": 0,
        "errors": 0,
        "flaky": 1,
        "quarantined": 0,
    }
    assert verdicts.flaky_line(found.flaky[0]) == (
        f"flaky: {A} passed only when run again in 1 of 1 (AssertionError: first try)"
    )


def test_failing_every_time_or_skipping_is_not_flaky():
    reps = [rep(n, {A: fail(), B: TestRun("skipped") if n == 1 else PASS, C: PASS}) for n in (1, 2)]
    found = analyse(reps, {}, POLICY)
    assert found.stable
    assert counts(reps, POLICY) == {
        "passed": 2,
        "failed": 1,
        "skipped": 0,
        "errors": 0,
        "flaky": 0,
        "quarantined": 0,
    }


def test_suspects_carry_the_tests_before_them_in_their_own_process():
    first = rep(1, {C: PASS, A: PASS, B: PASS, D: PASS})
    second = rep(2, {C: TestRun("passed", process="1/gw0"), B: fail(process="1/gw1"), D: PASS})
    second = Repetition(
        2,
        {**second.tests, A: TestRun("passed", process="1/gw1")},
        {
            "1/gw0": (C,),
            "1/gw1": (A, B),
            "1": (D,),
        },
    )
    assert suspects([first, second]) == [(B, (A,))]  # C ran in another worker: it cannot have leaked


def test_a_reproduced_failure_is_order_dependent_and_one_that_was_not_stays_flaky():
    reps = [rep(1, {A: PASS, B: fail(), C: fail()}), rep(2, {B: PASS, C: PASS, A: PASS})]
    found = analyse(
        reps,
        {
            B: Reproduction(B, (A, B), 4, True, "fails after 1 test of the 1 test that ran before it"),
            C: Reproduction(
                C, (), 1, False, "replaying the 2 tests that ran before it, in order, did not fail it again"
            ),
        },
        POLICY,
    )
    assert [(t.test, t.failed_in, t.passed_in, t.order) for t in found.order_dependent] == [
        (B, (1,), (2,), (A, B))
    ]
    assert [(t.test, t.replay) for t in found.flaky] == [
        (C, "replaying the 2 tests that ran before it, in order, did not fail it again")
    ]
    assert verdicts.dependent_line(found.order_dependent[0]) == (
        f"order-dependent: {B} failed in 1 of 2 repetitions, "
        f"fails after 1 test of the 1 test that ran before it: {A}"
    )


@pytest.mark.parametrize(
    ("pattern", "named"),
    [
        ("t/test_a.py::test_a", {A}),
        ("t/test_a.py", {A}),
        ("t", {A, B, C, D, "t/test_p.py::test_p[1-2]"}),
        ("t/test_[ab].py::*", set()),  # `[` is literal: parameter ids use it
        ("t/test_?.py::test_[ab]*", set()),
        ("*::test_p[1-2]", {"t/test_p.py::test_p[1-2]"}),
        ("t/*::test_c", {C}),
    ],
)
def test_quarantine_names_node_ids_paths_and_globs(pattern, named):
    entries = (Quarantined(pattern, "why"),)
    tests = {A, B, C, D, "t/test_p.py::test_p[1-2]"}
    assert {t for t in tests if quarantine_reason(t, entries)} == named


def test_quarantined_tests_are_reported_and_do_not_gate():
    policy = StabilityPolicy(
        quarantine=(Quarantined("t/test_a.py", "waits on a real clock"), Quarantined("gone/*", "old"))
    )
    reps = [rep(1, {A: PASS, B: fail()}), rep(2, {A: fail(), B: fail()})]
    found = analyse(reps, {}, policy)
    assert [(t.test, t.quarantined) for t in found.flaky] == [(A, "waits on a real clock")]
    assert found.unmatched == (Quarantined("gone/*", "old"),)
    assert counts(reps, policy)["quarantined"] == 1 and counts(reps, policy)["failed"] == 1
    outcome = verdicts.verdict(found, policy)
    assert outcome.blocking == ()
    assert outcome.warnings == (
        f"quarantined (waits on a real clock): flaky: {A} failed in 1 of 2 repetitions "
        "(AssertionError: boom)",
        "quarantine entry gone/* matches no test that ran",
    )


RACE = {"statements": range(1, 11), "branches": {(4, 5), (4, 7)}}


def _race(executed, taken):
    return cover(RACE["statements"], executed, RACE["branches"], taken)


def test_lines_and_branches_covered_in_some_repetitions_only_are_named_with_how_often():
    a_first, b_first = _race({1, 2, 3, 4, 5, 9, 10}, {(4, 5)}), _race({1, 2, 3, 4, 7, 8, 9, 10}, {(4, 7)})
    steady = cover(range(1, 5), {1, 2})
    reps = [
        rep(n, {A: PASS}, {"pkg/race.py": f, "pkg/steady.py": steady})
        for n, f in ((1, a_first), (2, b_first), (3, a_first))
    ]
    gating, warning = Target("pkg/race.py", percent=70.0), Target("pkg/race.py", percent=99.0, warn_only=True)
    rules = {"pkg/race.py": [gating, warning]}
    (race,) = unstable_files(reps, lambda path: rules.get(path, ()))
    assert race.path == "pkg/race.py"
    assert race.lines == {5: 2, 7: 1, 8: 1}
    assert race.branches == {(4, 5): 2, (4, 7): 1}
    assert race.percents == (a_first.percent, b_first.percent, a_first.percent)
    assert (race.low, race.high) == (200 / 3, 75.0)
    assert race.met_in == (2,)  # 75% with b first; 66.7% with a first
    assert verdicts.unstable_line(race, 3) == (
        "unstable coverage: pkg/race.py lines 5, 7-8 and branches 4->5, 4->7 covered in some repetitions only"
        " (66.7% to 75.0%); target met in 1 of 3 repetitions only"
    )
    lowest = lowest_figures(reps)
    assert lowest["pkg/race.py"] == {
        "percent": a_first.percent,
        "lines_percent": 70.0,
        "branches_percent": 50.0,
    }
    assert lowest["pkg/steady.py"] == steady.figures()


def test_a_file_missing_from_a_repetition_counts_as_covered_nowhere_there():
    reps = [rep(1, {A: PASS}, {"pkg/late.py": cover({1, 2}, {1, 2})}), rep(2, {A: PASS}, {})]
    assert lowest_figures(reps)["pkg/late.py"] == {
        "percent": 0.0,
        "lines_percent": 0.0,
        "branches_percent": None,
    }
    (late,) = unstable_files(reps, lambda path: ())
    assert late.lines == {1: 1, 2: 1} and late.percents == (100.0, 0.0) and late.met_in is None


def test_the_same_tests_and_lines_every_time_is_stable():
    files = {"pkg/race.py": _race({1, 2, 3, 4, 5}, {(4, 5)})}
    reps = [rep(n, {A: PASS, B: TestRun("skipped"), C: fail()}, files, seed=n * 11) for n in (1, 2, 3)]
    found = analyse(reps, {}, POLICY)
    assert found.stable and found.seeds == (11, 22, 33)
    outcome = verdicts.verdict(found, POLICY)
    assert outcome == verdicts.Verdict((), ())
    doc = verdicts.section(found, outcome, POLICY, "abc")
    assert doc["stable"] is True and doc["flaky"] == doc["order_dependent"] == doc["unstable_files"] == []


def _unstable_everything():
    reps = [
        rep(1, {A: PASS, B: fail()}, {"pkg/race.py": _race({1, 2}, set())}, seed=5),
        rep(2, {A: fail(), B: PASS}, {"pkg/race.py": _race({1}, set())}, seed=6),
    ]
    reproduced = {B: Reproduction(B, (A, B), 3, True, "fails after 1 test of the 1 test that ran before it")}
    return analyse(reps, reproduced, POLICY)


def test_unstable_tests_and_coverage_block_the_module_unless_the_spec_says_warn():
    found = _unstable_everything()
    seen = [SeenFlaky(C, "abc", 2, 1, 3, "2025-01-01T00:00:00+00:00"), SeenFlaky(A, "abc", 1, 1, 2, "x")]
    ready = [ReadyToLeave(D, "slow", 10)]
    outcome = verdicts.verdict(found, POLICY, seen, ready)
    assert [line.split(":")[0] for line in outcome.blocking] == [
        "flaky",
        "order-dependent",
        "unstable coverage",
        "flaky across runs",
    ]
    assert all(name in " ".join(outcome.blocking) for name in (A, B, C, "pkg/race.py"))
    assert (
        outcome.blocking[3]
        == f"flaky across runs: {C} passed in 2 and failed in 1 of 3 runs at source state abc"
    )
    assert outcome.warnings == (f"ready to leave quarantine: {D} passed 10 runs in a row",)
    assert verdicts.status("complete", outcome.blocking) == "unstable"
    assert verdicts.status("in_progress", outcome.blocking) == "unstable"
    assert verdicts.status("failed", outcome.blocking) == "failed"
    warned = verdicts.verdict(found, StabilityPolicy(flaky="warn"), seen, ready)
    assert warned.blocking == () and warned.warnings == outcome.blocking + outcome.warnings
    assert verdicts.status("complete", warned.blocking) == "complete"


def test_the_results_section_is_plain_json_and_says_what_blocks():
    found = _unstable_everything()
    outcome = verdicts.verdict(found, POLICY)
    doc = verdicts.section(found, outcome, POLICY, "abc+def")
    assert json.loads(json.dumps(doc)) == doc
    assert doc["repetitions"] == 2 and doc["seeds"] == [5, 6] and doc["stable"] is False
    assert doc["order_dependent"][0]["order"] == [A, B]
    assert doc["unstable_files"][0]["lines"] == {"2": 1}
    assert doc["blocking"] == list(outcome.blocking)
    low, high = doc["unstable_files"][0]["low"], doc["unstable_files"][0]["high"]
    assert trace.StabilityFigures.of_section(doc) == trace.StabilityFigures(
        repetitions=2,
        seeds=(5, 6),
        stable=False,
        flaky=(A,),
        order_dependent=(B,),
        unstable_files={"pkg/race.py": (low, high)},
    )


def test_without_repetitions_only_the_history_speaks():
    seen = [SeenFlaky(C, "abc", 1, 1, 2, "2025-01-02T00:00:00+00:00")]
    outcome = verdicts.verdict(None, POLICY, seen)
    doc = verdicts.section(None, outcome, POLICY, "abc", seen)
    assert doc["repetitions"] == 1 and doc["stable"] is False and "flaky" not in doc
    assert doc["seen_flaky"][0]["test"] == C and len(doc["blocking"]) == 1
    assert verdicts.spans([3, 4, 5, 9, 11, 12]) == "3-5, 9, 11-12"
    assert verdicts.arc_text((12, -1)) == "12->exit"


def test_the_spec_stability_key_parses_from_yaml_and_from_a_pyproject_table(tmp_path):
    from harness.spec.parse import load_spec, spec_from_table

    base = {"id": "mod-a", "title": "A", "source": "calc", "suites": ["suites/tests"]}
    stability = {
        "flaky": "warn",
        "quarantine": [{"test": "suites/tests/test_net.py::test_*", "reason": "  the network is slow  "}],
        "reruns": 2,
        "repeat": 5,
        "shuffle": True,
    }
    expected = StabilityPolicy(
        flaky="warn",
        quarantine=(Quarantined("suites/tests/test_net.py::test_*", "the network is slow"),),
        reruns=2,
        repeat=5,
        shuffle=True,
    )
    path = tmp_path / "module.yml"
    path.write_text(json.dumps({**base, "stability": stability}))  # JSON is YAML
    assert load_spec(path).stability == expected
    assert (
        spec_from_table(tmp_path / "pyproject.toml", "mod-a", {**base, "stability": stability}).stability
        == expected
    )
    path.write_text(json.dumps(base))
    assert load_spec(path).stability == StabilityPolicy(
        flaky="fail", quarantine=(), reruns=0, repeat=1, shuffle=False
    )
