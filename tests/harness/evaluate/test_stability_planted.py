"""The planted cases of issue 21, each found and named by real repeated, shuffled runs and real replays;
the same project without them is reported stable. See `planted.py` for what is planted."""

import pytest

from harness.errors import DataError
from harness.evaluate import stability_verdict as verdicts
from harness.evaluate.stability import analyse, suspects
from harness.measure.coverage import json_report
from harness.measure.repetitions import covered_files, lowest_figures, merge, read_repetition
from harness.report import stability as stability_report
from harness.run.bisect import reproduce
from harness.run.order import order_env
from harness.run.replay import pytest_replay
from harness.run.session import RunOptions, run_session
from harness.spec.model import StabilityPolicy, Suite
from tests.harness import planted

POLICY = StabilityPolicy()


def _repeat(root, seeds):
    """Run the suites once per seed, each in its own session and work directory (as `--repeat --shuffle`)."""
    reps = []
    for number, seed in enumerate(seeds, 1):
        work = root / ".work" / f"rep-{number}"
        session = run_session(
            root,
            [Suite("suites/tests")],
            ("calc",),
            work,
            RunOptions(),
            lambda _: None,
            extra_env=order_env(seed),
        )
        records = [process.records for process in session.processes]
        reps.append(read_repetition(number, root, records, session.data_file, work / "report"))
    return reps


@pytest.fixture(scope="module")
def clean_env():
    with pytest.MonkeyPatch.context() as patch:
        for name in ("DJANGO_SETTINGS_MODULE", "PYTEST_ADDOPTS", "COVERAGE_PROCESS_START"):
            patch.delenv(name, raising=False)
        patch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")  # the planted project names the plugins it needs
        yield


@pytest.fixture(scope="module")
def found(tmp_path_factory, clean_env):
    """Three shuffled repetitions of the planted project, and the replays of every suspect."""
    root = planted.write_project(tmp_path_factory.mktemp("planted") / "proj")
    seeds = planted.telling_seeds(planted.collected(root))
    reps = _repeat(root, seeds)
    reproductions = reproduce(suspects(reps), pytest_replay(root, root / ".work" / "replay"))
    return root, reps, seeds, analyse(reps, reproductions, POLICY)


def test_the_test_that_fails_one_time_in_three_is_flaky(found):
    _, _, _, stability = found
    (flaky,) = stability.flaky
    assert (flaky.test, flaky.runs, flaky.failed) == (planted.FLAKY, 3, 1)
    (failure,) = flaky.failures
    assert failure.kind == "failed: AssertionError" and failure.repetition == 3
    assert failure.message == "AssertionError: every third run fails"
    assert "assert (3 % 3) != 0" in failure.details
    assert flaky.replay.endswith("did not fail it again")  # not order-dependent


def test_the_pair_that_leaks_state_is_order_dependent_with_its_shortest_order(found):
    _, _, _, stability = found
    victim = {t.test: t for t in stability.order_dependent}[planted.VICTIM]
    assert victim.order == (planted.LEAKER, planted.VICTIM) and victim.minimal
    assert victim.note.startswith("fails after 1 test of the")
    assert victim.failures[0].message == "AssertionError: state left behind by an earlier test"
    assert victim.failed_in and victim.passed_in


def test_the_test_that_fails_only_in_a_fresh_process_is_named_so(found):
    _, _, _, stability = found
    cold = {t.test: t for t in stability.order_dependent}[planted.COLD]
    assert cold.order == (planted.COLD,)
    assert cold.note.startswith("fails when run alone, in a fresh process")
    assert set(stability.order_dependent) == {
        cold,
        {t.test: t for t in stability.order_dependent}[planted.VICTIM],
    }


def test_the_race_shows_as_unstable_lines_and_branches(found):
    root, reps, _, stability = found
    source = (root / planted.RACE_FILE).read_text().splitlines()
    decide = 1 + next(i for i, line in enumerate(source) if "result() ==" in line)
    a_won, b_won = decide + 1, decide + 2
    (race,) = stability.unstable
    assert race.path == planted.RACE_FILE
    assert race.lines == {a_won: 2, b_won: 1}  # repetitions 1 and 3 let a finish first, 2 let b
    assert race.branches == {(decide, a_won): 2, (decide, b_won): 1}
    assert lowest_figures(reps)[planted.RACE_FILE]["percent"] == race.low


def test_the_merged_data_covers_what_any_repetition_covered(found, tmp_path):
    root, reps, _, _ = found
    data = [root / ".work" / f"rep-{rep.number}" / ".coverage" for rep in reps]
    report = json_report(root, merge(root, data, tmp_path / ".coverage"), tmp_path / "report")
    merged = covered_files(report)
    for path, cover in merged.items():
        assert cover.executed == frozenset().union(*(rep.files[path].executed for rep in reps))
        assert cover.percent >= max(rep.files[path].percent for rep in reps)


def test_the_verdict_names_every_planted_case_and_keeps_the_module_from_complete(found):
    _, _, seeds, stability = found
    outcome = verdicts.verdict(stability, POLICY)
    text = "\n".join(outcome.blocking)
    for name in (planted.FLAKY, planted.VICTIM, planted.COLD, planted.RACE_FILE, planted.LEAKER):
        assert name in text
    assert verdicts.status("complete", outcome.blocking) == "unstable"
    doc = verdicts.section(stability, outcome, POLICY, "c0ffee")
    assert doc["seeds"] == seeds
    report = stability_report.render(doc)
    assert (
        "**unstable**: 1 flaky test, 2 order-dependent tests, 2 unstable lines and 2 unstable branches"
        in report
    )
    assert f"`{planted.LEAKER}` → `{planted.VICTIM}`" in report


def test_the_project_without_them_is_reported_stable(tmp_path, clean_env):
    root = planted.write_project(tmp_path / "proj", planted=False)
    reps = _repeat(root, [0, 1, 2])
    assert len({rep.order["1"] for rep in reps}) == 3  # three different orders
    stability = analyse(reps, {}, POLICY)
    assert suspects(reps) == [] and stability.stable
    outcome = verdicts.verdict(stability, POLICY)
    assert outcome.blocking == () and verdicts.status("complete", outcome.blocking) == "complete"
    doc = verdicts.section(stability, outcome, POLICY, "c0ffee")
    assert (
        "**stable**: no flaky tests, no order-dependent tests, no unstable lines."
        in stability_report.render(doc)
    )


def test_a_replay_that_cannot_run_its_test_says_so(found, tmp_path):
    root, _, _, _ = found
    fails = pytest_replay(root, tmp_path / "replay")
    assert fails(("suites/tests/test_plain.py::test_one",)) is False
    with pytest.raises(
        DataError, match=r"replaying an order did not run suites/tests/test_plain\.py::test_nope"
    ):
        fails(("suites/tests/test_plain.py::test_nope",))
    assert "test_nope was not collected" in (tmp_path / "replay" / "replay-2.log").read_text()
