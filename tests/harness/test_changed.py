"""`--changed` on `harness run`, `mutate` and `check`, through the command line on a throwaway git project:
the affected tests only (the whole run's result and record untouched), the mutants on changed lines
(the verdicts a whole `harness mutate` gives them), the patch gate, and patch.json / PATCH.md."""

import json
import shutil

import pytest
import yaml

from harness.evaluate.patch_json import FIGURES
from harness.spec.project import Project
from harness.store import layout, trace
from harness.store import mutation as mutation_store
from tests.harness.conftest import Throwaway
from tests.harness.gitrepo import GIT_ENV, PATCH_SPEC, Repo, patch_project

HEADLINE = "patch coverage 0% (0 of 1 lines; missing: ops.py 13)"
SIGN = "test_ops.py::TestSign::test_positive"


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """The throwaway project in git, on `main`, after a whole `harness run` that kept the record."""
    with pytest.MonkeyPatch.context() as patch:
        for name in ("DJANGO_SETTINGS_MODULE", "PYTEST_ADDOPTS", "COVERAGE_PROCESS_START", "GITHUB_ACTIONS"):
            patch.delenv(name, raising=False)
        for name, value in GIT_ENV.items():
            patch.setenv(name, value)
        patch.delenv("GITHUB_STEP_SUMMARY", raising=False)
        project = patch_project(tmp_path_factory.mktemp("changed") / "proj")
        repo = Repo(project.root)
        repo.git("init", "-q", "-b", "main")
        repo.commit("main")
        assert project.harness("run", "mod-a").exit_code == 0
        yield project


@pytest.fixture
def work(recorded, tmp_path, monkeypatch):
    """A copy of the recorded project (history, reports and record too) on a branch `feature`."""
    for name, value in GIT_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    project = Throwaway(tmp_path / "proj")
    shutil.copytree(recorded.root, project.root, symlinks=True)
    Repo(project.root).git("checkout", "-q", "-b", "feature")
    return project


def _edit(project: Throwaway, old: str, new: str, rel: str = "calc/ops.py") -> None:
    text = (project.root / rel).read_text(encoding="utf-8")
    assert old in text
    (project.root / rel).write_text(text.replace(old, new), encoding="utf-8")


def _files(project: Throwaway) -> layout.ModuleFiles:
    return layout.files(Project(project.root), "mod-a")


def _patch(project: Throwaway) -> dict:
    return json.loads(_files(project).patch.read_text(encoding="utf-8"))


def _kept(project: Throwaway) -> dict:
    at = _files(project)
    return {p: p.read_bytes() for p in (at.result, at.per_test_data, at.per_test_meta, at.coverage_report)}


def test_run_changed_runs_the_affected_tests_only_and_leaves_the_whole_runs_result_and_record(work):
    before, events = _kept(work), len(work.trace())
    _edit(work, "    return 0\n", "    return 0 * x\n")  # sign()'s last line, which no test reaches

    done = work.harness("run", "mod-a", "--changed", "main")

    assert done.exit_code == 1, done.output  # the changed line is run by no test: 0% < 50%
    assert "mod-a: 1 of 4 tests (affected by the change): 1 passed" in done.output
    assert "patch: coverage 0% < target 50% (missing: ops.py 13)" in done.output
    assert _kept(work) == before  # results.json, the record and coverage.json: as the whole run left them
    ran = json.loads(_files(work).selected_meta.read_text(encoding="utf-8"))["durations"]
    assert [t.rpartition("/")[2] for t in ran] == [SIGN]
    doc = _patch(work)
    assert doc["totals"]["statements"] == 1 and doc["files"]["calc/ops.py"]["missing"] == [13]
    assert doc["affected"]["tests"] == 1 and doc["affected"]["of"] == 4
    recorded = json.loads(before[_files(work).per_test_meta])["figures"]
    init, ops = doc["affected"]["files"]["calc/__init__.py"], doc["affected"]["files"]["calc/ops.py"]
    assert init == {**{k: recorded["calc/__init__.py"][k] for k in FIGURES}, "carried": "record"}
    assert ops["partial"] is True and ops["percent"] < recorded["calc/ops.py"]["percent"]
    assert "## The module's files after the affected tests" in _files(work).patch_report.read_text()
    new = trace.read(Project(work.root))[events:]
    assert new == [trace.PatchMeasured.of_patch(doc)] and new[0].passed is False  # no run_started


def test_a_change_the_record_cannot_answer_for_runs_every_test_and_keeps_a_whole_result(work):
    _edit(work, '"""A tiny module', '"""The tiny module')  # module-level code: every test runs
    _edit(work, "    return 0\n", "    return 0 * x\n")
    old = work.result("mod-a")["finished_at"]

    done = work.harness("run", "mod-a", "--changed", "main")

    assert "Every test runs: calc/ops.py:1: module-level code changed" in done.output
    assert work.result("mod-a")["finished_at"] != old  # a whole run: its result is the module's
    doc = _patch(work)
    assert doc["affected"] == {"tests": 4, "of": 4, "reason": doc["affected"]["reason"]}
    assert doc["affected"]["reason"].startswith("calc/ops.py:1: module-level code changed")
    assert doc["files"]["calc/ops.py"]["missing"] == [13] and done.exit_code == 1


def test_a_change_no_test_reaches_runs_no_test_and_its_lines_are_missing(work):
    _edit(work, "class Box:", "def unused(x):\n    return x + 1\n\n\nclass Box:")

    done = work.harness("run", "mod-a", "--changed", "main")

    assert "No test is affected by the change: none runs" in done.output
    doc = _patch(work)
    assert doc["files"]["calc/ops.py"]["missing"] == [17] and doc["affected"]["tests"] == 0
    assert all(f.get("carried") for f in doc["affected"]["files"].values())


def test_mutate_changed_makes_the_mutants_on_changed_lines_with_a_whole_mutates_verdicts(work):
    _edit(work, "    return a + b\n", "    return b + a\n")  # add(): run, and its mutants killed or not
    _edit(work, "        return 1\n", "        return 1 + 0\n")  # sign(x > 0)
    assert work.harness("run", "mod-a", "--changed", "main").exit_code == 0
    done = work.harness("mutate", "mod-a", "--changed", "main")
    assert "tests mapped to lines by the last `harness run --changed`" in done.output
    assert not _files(work).mutation.exists()  # mutation.json is a whole mutate's
    patched = {m["id"]: m["status"] for m in _mutants(work)}
    assert patched and {m["line"] for m in _mutants(work)} == {5, 10}

    whole = work.harness("mutate", "mod-a", "--fresh")  # every mutant, its own mapping run, no cache

    assert whole.exit_code == 0, whole.output
    stored = mutation_store.load(_files(work))["mutants"]
    assert {m["id"]: m["status"] for m in stored if m["line"] in (5, 10)} == patched


def _mutants(project: Throwaway) -> list[dict]:
    doc = _patch(project)
    assert doc["mutation"] is not None
    entries = json.loads(_files(project).selected_mutants.read_text(encoding="utf-8"))["value"]
    assert doc["mutation"]["mutants"] == len(entries)
    return entries


def test_check_changed_gates_on_the_patch_and_says_where(work, tmp_path, monkeypatch):
    _edit(work, "    return 0\n", "    return 0 * x\n")
    assert work.harness("run", "mod-a", "--changed").exit_code == 1  # REF: the main branch
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    events = len(work.trace())

    done = work.harness("check", "mod-a", "--changed", "--annotations", "--comment", str(tmp_path / "c.md"))

    assert done.exit_code == 1
    lines = done.output.splitlines()
    assert lines[0] == "mod-a: Complete"  # the module's own status, as its last whole run left it
    failed = lines.index("patch: FAILED")
    assert "patch: coverage 0% < target 50% (missing: ops.py 13)" in lines[:failed]
    assert lines[failed + 1].startswith("::error file=calc/ops.py,line=13,endLine=13,")
    for text in (summary.read_text(), (tmp_path / "c.md").read_text()):
        assert (
            "mod-a" in text
            and "### This change: ❌ patch coverage 0% (0 of 1 lines; missing: ops.py 13)" in text
        )
    assert len(work.trace()) == events  # check measures nothing: no patch_measured
    _edit(work, "    return 0 * x\n", "    return 0\n")
    assert work.harness("check", "mod-a", "--changed").exit_code == 0  # the same tree as main's


def test_check_run_changed_after_a_whole_run_gates_on_the_modules_own_targets_too(work):
    work.write("suites/mod-a/module.yml", yaml.safe_dump({**PATCH_SPEC, "targets": {"calc/ops.py": 99}}))

    done = work.harness("check", "mod-a", "--run", "--changed", "main")

    assert "Every test runs: the module's spec changed since the record was made" in done.output
    assert "patch: passed: no line of the change can be measured" in done.output
    assert done.exit_code == 1 and "calc/ops.py" in work.result("mod-a")["unmet"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "mod-a", "--changed", "main", "--step", "1"], "it cannot be combined with --step"),
        (["run", "mod-a", "--changed", "nope"], "--changed nope: no such branch, tag or commit"),
        (["mutate", "mod-a", "--changed", "--shard", "1/2"], "it cannot be combined with --shard"),
        (["run", "mod-a", "--changed", "main", "--repeat", "3"], "it cannot be combined with --repeat"),
        (
            ["check", "mod-a", "--run", "--changed", "main", "--shuffle", "--seed", "7"],
            "it cannot be combined with --shuffle, --seed",
        ),
    ],
)
def test_changed_refuses_what_it_cannot_do_in_one_line(work, args, message):
    done = work.harness(*args)
    assert done.exit_code == 2 and message in done.output and len(done.output.strip().splitlines()) == 1


def test_check_changed_says_when_the_whole_run_was_of_another_tree(tmp_path, monkeypatch):
    """Without a per-test record (no `patch:` targets), the outcome log tells the tree the run was of."""
    for name, value in GIT_ENV.items():
        monkeypatch.setenv(name, value)
    for name in ("DJANGO_SETTINGS_MODULE", "PYTEST_ADDOPTS", "COVERAGE_PROCESS_START", "GITHUB_STEP_SUMMARY"):
        monkeypatch.delenv(name, raising=False)
    project = patch_project(tmp_path / "proj")
    without_patch = {key: value for key, value in PATCH_SPEC.items() if key != "patch"}
    project.write("suites/mod-a/module.yml", yaml.safe_dump(without_patch))
    repo = Repo(project.root)
    repo.git("init", "-q", "-b", "main")
    repo.commit("main")
    repo.git("checkout", "-q", "-b", "feature")
    _edit(project, "    return 0\n", "    return 0 * x\n")
    note = "Note: patch coverage from mod-a's last whole run, which may have run on another tree"
    ran = project.harness("run", "mod-a")
    assert ran.exit_code == 0, ran.output
    assert note not in project.harness("check", "mod-a", "--changed").output  # run on this very tree
    _edit(project, "    return 0 * x\n", "    return 0 * -x\n")
    assert note in project.harness("check", "mod-a", "--changed").output
