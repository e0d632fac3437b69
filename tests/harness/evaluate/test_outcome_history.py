"""Test outcomes across runs: the compact record, its log, flaky tests across runs, release from quarantine,
and the source state that keys them (real git repositories in tmp_path)."""

import subprocess

from harness.evaluate.outcome_history import SeenFlaky, flaky_across_runs, from_repetitions, ready_to_leave
from harness.measure.repetitions import Attempt, Repetition, TestRun
from harness.measure.source_state import source_state
from harness.spec.model import Quarantined
from harness.spec.project import Project
from harness.store import outcome_log
from harness.store.outcome_log import RunOutcomes, decode, encode

A, B = "t/test_a.py::test_a", "t/test_a.py::TestK::test_b[x::y]"
C, D = "t/sub/test_c.py::test_c", "t/test_broken.py (collection)"

OWN = ("reports", "trace.yml", "MAP.md")  # what the harness writes in a project with default settings


def _rep(number, **outcomes):
    tests = {test: run for test, run in zip((A, B, C, D), outcomes.values(), strict=False)}
    return Repetition(number, tests, {"1": tuple(t for t in tests if "(" not in t)})


def test_a_run_record_folds_repetitions_and_survives_the_log(tmp_path):
    again = TestRun("passed", reruns=(Attempt("failed", "boom"),))
    reps = [
        _rep(1, a=TestRun("passed"), b=TestRun("failed"), c=again, d=TestRun("errors")),
        _rep(2, a=TestRun("passed"), b=TestRun("passed"), c=TestRun("passed"), d=TestRun("errors")),
    ]
    record = from_repetitions(reps, "abc", "2025-01-02T03:04:05+00:00", "run1")
    assert record.outcomes == {A: "passed", B: "flaky", C: "flaky", D: "errors"}
    assert encode(record)["tests"] == {
        "passed": {"t/test_a.py": ["test_a"]},
        "flaky": {"t/sub/test_c.py": ["test_c"], "t/test_a.py": ["TestK::test_b[x::y]"]},
        "errors": {"t/test_broken.py (collection)": [""]},
    }
    log = tmp_path / "reports" / "mod" / "outcomes.jsonl"
    outcome_log.append(Project(tmp_path), log, record)
    other = RunOutcomes("abc", "2025-01-01T00:00:00+00:00", {A: "failed"}, "run0")
    outcome_log.append(Project(tmp_path), log, other)
    assert outcome_log.read([log]) == [other, record]  # time order, whatever the order appended
    assert outcome_log.read([tmp_path / "none.jsonl"]) == []


def test_logs_from_several_machines_read_as_one_history_without_repeats(tmp_path):
    mine, theirs = tmp_path / "mine.jsonl", tmp_path / "ci.jsonl"
    shared = RunOutcomes("abc", "2025-01-02", {A: "failed"}, "ci-1")
    outcome_log.append(Project(tmp_path), mine, RunOutcomes("abc", "2025-01-03", {A: "passed"}, "me-1"))
    outcome_log.append(Project(tmp_path), theirs, shared)
    outcome_log.append(Project(tmp_path), mine, shared)  # a copy of CI's run, read from both logs
    history = outcome_log.read([mine, theirs])
    assert [r.run for r in history] == ["ci-1", "me-1"]
    assert flaky_across_runs(history) == (SeenFlaky(A, "abc", 1, 1, 2, "2025-01-02"),)


def test_a_test_that_passed_and_failed_at_one_source_state_is_flaky_across_runs():
    runs = [
        RunOutcomes("s1", "2025-01-01", {A: "passed", B: "failed", C: "passed"}),
        RunOutcomes("s1", "2025-01-02", {A: "failed", B: "failed", C: "passed"}),
        RunOutcomes("s2", "2025-01-03", {A: "passed", B: "passed", C: "flaky"}),
    ]
    assert flaky_across_runs(runs) == (
        SeenFlaky(A, "s1", 1, 1, 2, "2025-01-02"),
        SeenFlaky(C, "s2", 1, 1, 1, "2025-01-03"),  # flaky within one run already
    )
    assert [seen.test for seen in flaky_across_runs(runs, state="s1")] == [A]  # B failed every time at s1
    assert decode(encode(runs[0]), "x") == runs[0]


def test_a_quarantined_test_that_kept_passing_is_ready_to_leave():
    quarantine = (Quarantined("t/test_a.py", "slow network"),)
    runs = [RunOutcomes("s", f"2025-01-{n:02d}", {A: "passed", B: "passed"}) for n in range(1, 12)]
    runs[1] = RunOutcomes("s", "2025-01-02", {A: "failed", B: "passed"})
    runs[5] = RunOutcomes("s", "2025-01-06", {B: "skipped"})  # neither counts nor breaks a streak
    ready = ready_to_leave(runs, quarantine, after=8)
    assert [(r.test, r.reason, r.streak) for r in ready] == [(B, "slow network", 10), (A, "slow network", 8)]
    assert [r.test for r in ready_to_leave(runs, quarantine, after=9)] == [B]
    assert ready_to_leave(runs, (), after=1) == ()


def _git(root, *args):
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


def _repo(root):
    root.mkdir()
    _git(root, "init", "-q")
    _git(root, "config", "user.email", "t@example.com")
    _git(root, "config", "user.name", "t")
    (root / "pkg.py").write_text("x = 1\n")
    (root / "reports").mkdir()
    (root / "reports" / "old.json").write_text("{}")
    _git(root, "add", ".")
    _git(root, "commit", "-qm", "one")
    return root


def test_the_source_state_is_the_commit_plus_a_digest_of_local_changes(tmp_path):
    root = _repo(tmp_path / "a")
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True
    ).stdout.strip()
    assert source_state(root, OWN) == head
    (root / "trace.yml").write_text("- event: run\n")  # the harness's own outputs change nothing
    (root / "reports" / "old.json").write_text('{"new": 1}')
    assert source_state(root, OWN) == head
    (root / "pkg.py").write_text("x = 2\n")
    changed = source_state(root, OWN)
    assert changed.startswith(f"{head}+") and len(changed) == len(head) + 17
    (root / "new.py").write_text("y = 1\n")
    with_new = source_state(root, OWN)
    assert with_new not in (head, changed)
    clone = tmp_path / "b"
    subprocess.run(["git", "clone", "-q", str(root), str(clone)], check=True)
    assert source_state(clone, OWN) == head  # another machine, same commit
    (clone / "pkg.py").write_text("x = 2\n")
    (clone / "new.py").write_text("y = 1\n")
    assert source_state(clone, OWN) == with_new  # and the same local changes: the same state


def test_a_rename_counts_both_paths_and_a_project_outside_git_is_keyed_by_its_files(tmp_path):
    root = _repo(tmp_path / "a")
    _git(root, "mv", "pkg.py", "lib.py")
    renamed = source_state(root, OWN)
    assert "+" in renamed
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "pkg.py").write_text("x = 1\n")
    first = source_state(plain, OWN)
    assert first.startswith("files:")
    (plain / "trace.yml").write_text("x")
    assert source_state(plain, OWN) == first
    (plain / "pkg.py").write_text("x = 3\n")
    assert source_state(plain, OWN) != first
