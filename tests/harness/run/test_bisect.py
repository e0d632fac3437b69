"""The shortest reproducing order: delta debugging over the tests that ran before a failing one."""

import math

import pytest

from harness.run.bisect import ddmin, shortest_order

TESTS = tuple(f"t/test_{n:02d}.py::test_{n}" for n in range(16))
VICTIM = "t/test_victim.py::test_victim"


class Runner:
    """A `fails` whose verdict is a rule over the order; it counts its calls and checks what it is given."""

    def __init__(self, rule):
        self.rule, self.orders = rule, []

    def __call__(self, order):
        assert order[-1] == VICTIM and len(set(order)) == len(order)
        assert list(order[:-1]) == sorted(order[:-1], key=TESTS.index), "the replayed tests keep their order"
        self.orders.append(order)
        return self.rule(order[:-1])


def test_one_test_that_leaks_state_is_found_in_about_log2_replays():
    leaker = TESTS[11]
    runner = Runner(lambda before: leaker in before)
    found = shortest_order(VICTIM, TESTS, runner)
    assert found.order == (leaker, VICTIM) and found.minimal and found.reproduced
    assert found.note == "fails after 1 test of the 16 tests that ran before it"
    assert found.runs == len(runner.orders) <= 2 * math.log2(len(TESTS)) + 2 + 2  # + full, alone, 2 confirms
    assert runner.orders[0] == (*TESTS, VICTIM)  # the failing order first, exactly as it ran


def test_two_tests_needed_together_are_both_kept_in_their_order():
    runner = Runner(lambda before: TESTS[3] in before and TESTS[12] in before)
    found = shortest_order(VICTIM, TESTS, runner, budget=64)  # two culprits take more replays than one
    assert found.order == (TESTS[3], TESTS[12], VICTIM) and found.minimal


def test_a_test_that_fails_alone_needs_no_other():
    runner = Runner(lambda before: True)
    found = shortest_order(VICTIM, TESTS[:5], runner)
    assert found.order == (VICTIM,)
    assert found.note.startswith("fails when run alone, in a fresh process")
    assert runner.orders[:2] == [(*TESTS[:5], VICTIM), (VICTIM,)]


def test_a_failure_the_replay_does_not_repeat_is_not_order_dependent():
    runner = Runner(lambda before: False)
    found = shortest_order(VICTIM, TESTS[:4], runner)
    assert not found.reproduced and found.order == () and found.runs == 1
    assert found.note == "replaying the 4 tests that ran before it, in order, did not fail it again"
    first = shortest_order(VICTIM, (), Runner(lambda before: False))
    assert first.note == "it ran first in its process when it failed, and passed when run alone again"


def test_a_failure_that_comes_and_goes_in_one_order_is_not_deterministic():
    calls = iter(
        [True, False, True, True, False]
    )  # full order fails; alone passes; ...; a confirmation passes
    runner = Runner(lambda before: next(calls, False))
    found = shortest_order(VICTIM, TESTS[:2], runner)
    assert not found.reproduced
    assert found.note.endswith("then passed in that same order: not deterministic")


def test_out_of_replays_gives_a_shorter_order_and_says_it_may_not_be_shortest():
    runner = Runner(lambda before: TESTS[1] in before and TESTS[14] in before)
    found = shortest_order(VICTIM, TESTS, runner, budget=10)
    assert found.reproduced and not found.minimal
    assert TESTS[1] in found.order and TESTS[14] in found.order and 3 < len(found.order) < len(TESTS) + 1
    assert found.note.endswith("(bisecting ran out of replays: shorter, perhaps not shortest)")
    assert found.runs == 10 + 2  # and the two confirmations of what it found


@pytest.mark.parametrize("culprits", [{0}, {15}, {2, 9}, {0, 7, 15}, set(range(16))])
def test_ddmin_finds_exactly_the_tests_needed(culprits):
    needed = {TESTS[i] for i in culprits}
    found, minimal = ddmin(TESTS, lambda subset: needed <= set(subset))
    assert set(found) == needed and minimal
