"""harness.mutation on plain data: operators, skipped positions, ids, diffs, scores, gating, test maps."""

import re
import subprocess
import textwrap

import pytest
from coverage import CoverageData

from harness.errors import UsageError
from harness.evaluate import mutation as gating
from harness.evaluate.mutation import mutated_files
from harness.measure.coverage import step_contexts
from harness.measure.per_test import node_id, read_contexts
from harness.mutation import operators
from harness.mutation.engine import PROGRESS_EVERY, Keep, _Progress, in_shard
from harness.mutation.execute import FIRST_STAGE, Job, Killers, failed_test, stages
from harness.mutation.generate import generate
from harness.mutation.isolate import environment, import_roots
from harness.mutation.selection import LineTests, Naming, Timing, mutant_words
from harness.report.markdown import mutation_total
from harness.spec.model import Target
from harness.spec.project import Project
from harness.spec.tree import project_files
from harness.store import layout
from harness.store import mutation as stored

EVERY_KIND = """\
def pick(items, limit, flag):
    total = 0
    for item in items:
        if item is None:
            continue
        if item > limit and flag:
            break
        total += item * 2
    record(total, key="sum")
    return total
"""


def changes(mutants, operator):
    return {
        tuple(line[1:].strip() for line in m.diff.splitlines()[3:] if line[:1] in "+-")
        for m in mutants
        if m.operator == operator
    }


def test_every_required_kind_of_operator_applies():
    mutants = generate("pkg/pick.py", EVERY_KIND)
    kinds = {m.operator for m in mutants}
    assert {
        "comparison",
        "boolean",
        "arithmetic",
        "constant",
        "return-value",
        "removed-call",
        "keyword-argument",
        "break-continue",
    } <= kinds
    assert ("if item > limit and flag:", "if item >= limit and flag:") in changes(mutants, "comparison")
    assert ("if item is None:", "if item is not None:") in changes(mutants, "comparison")
    assert ("if item > limit and flag:", "if item > limit or flag:") in changes(mutants, "boolean")
    assert ("total += item * 2", "total += item / 2") in changes(mutants, "arithmetic")
    assert ("total = 0", "total = 1") in changes(mutants, "constant")
    assert ("return total", "return None") in changes(mutants, "return-value")
    assert ('record(total, key="sum")', "pass") in changes(mutants, "removed-call")
    assert changes(mutants, "keyword-argument") == {
        ('record(total, key="sum")', "record(total, key=None)"),
        ('record(total, key="sum")', "record(total, )"),
    }
    assert ("continue", "break") in changes(mutants, "break-continue")
    assert ("break", "return") in changes(mutants, "break-continue")


def test_positions_that_only_make_noise_are_skipped():
    source = textwrap.dedent('''\
        """Module docstring."""
        import logging
        from typing import TYPE_CHECKING

        if TYPE_CHECKING:
            from os import PathLike
        __all__ = ["f"]
        logger = logging.getLogger("x")


        @decorate(1)
        def f(x: int = 1) -> "str":
            """Docstring."""
            logger.info("value %s of %d", x, 2)
            return len(str(x))  # pragma: no mutate
        ''')
    mutants = generate("m.py", source)
    touched = {m.line for m in mutants}
    # Only the logger assignment, the default value and the removal of the logging call remain.
    assert touched == {8, 12, 14}
    assert {m.operator for m in mutants if m.line == 14} == {"removed-call"}


def test_ids_are_stable_under_unrelated_edits_and_distinct():
    before = generate("m.py", EVERY_KIND)
    after = generate("m.py", "import os\n\n\n" + EVERY_KIND.replace("pick(", "pick(\n    "))
    assert len({m.id for m in before}) == len(before)
    assert [m.id for m in before] == [m.id for m in after if m.function == "pick"][: len(before)]


def test_mutants_that_do_not_compile_are_not_made():
    mutants = generate("loop.py", "for i in range(3):\n    break\n")
    assert not any(m.operator == "break-continue" for m in mutants)  # `return` outside a function


@pytest.mark.parametrize(
    "text",
    ["def f(x):\n    return x + 1\n", "def f(x):\n    return x + 1", "def f(x):\r\n    return x + 1\r\n"],
    ids=["newline", "no-final-newline", "crlf"],
)
def test_every_diff_applies_with_git_apply(tmp_path, text):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg/m.py").write_bytes(text.encode())
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    mutants = generate("pkg/m.py", text)
    assert mutants
    for mutant in mutants:
        (tmp_path / "m.diff").write_text(mutant.diff, encoding="utf-8", newline="")
        check = subprocess.run(
            ["git", "apply", "--check", "m.diff"], cwd=tmp_path, capture_output=True, text=True
        )
        assert check.returncode == 0, (mutant.diff, check.stderr)
    subprocess.run(["git", "apply", "m.diff"], cwd=tmp_path, check=True)
    assert (tmp_path / "pkg/m.py").read_bytes() == mutants[-1].text.encode()


def test_missing_library_says_how_to_install(monkeypatch):
    def refuse(name):
        raise ImportError(name)

    monkeypatch.setattr(operators.importlib, "import_module", refuse)
    with pytest.raises(UsageError, match=r"pip install 'harness\[mutation\]'"):
        generate("m.py", "x = 1\n")


def entries(*statuses, file="a.py"):
    return [{"id": f"{i:012x}", "file": file, "status": s} for i, s in enumerate(statuses)]


def test_score_counts_timeouts_as_kills_and_leaves_out_equivalents():
    files = stored.summarize(
        ["a.py", "b.py"], entries("killed", "timeout", "survived", "no_tests", "equivalent")
    )
    assert files["a.py"] == {
        "mutants": 5,
        "killed": 1,
        "survived": 1,
        "timeout": 1,
        "no_tests": 1,
        "equivalent": 1,
        "score": 50.0,
    }
    assert files["b.py"]["score"] is None
    assert stored.total(files)["score"] == 50.0


def test_marking_equivalent_rescores_and_keeps_the_mutant_listed():
    doc = stored.document("m", ["a.py"], entries("killed", "survived"))
    marked = stored.mark_equivalent(doc, {"000000000001": "same behaviour"})
    assert marked["files"]["a.py"]["score"] == 100.0
    assert marked["mutants"][1] == {
        "id": "000000000001",
        "file": "a.py",
        "status": "equivalent",
        "rationale": "same behaviour",
    }


def test_a_run_of_some_files_keeps_the_others():
    previous = stored.document("m", ["a.py", "b.py"], entries("killed") + entries("survived", file="b.py"))
    files, mutants = stored.merge(previous, ["a.py"], entries("survived"))
    assert files == ["a.py", "b.py"]
    assert [(m["file"], m["status"]) for m in mutants] == [("b.py", "survived"), ("a.py", "survived")]


def test_a_file_changed_since_its_mutants_were_made_is_stale():
    doc = stored.document("m", ["a.py", "b.py"], [], sources={"a.py": stored.digest("x = 1\n")})
    assert stored.stale(doc, {"a.py": "x = 1\n", "b.py": "y = 2\n"}) == ["b.py"]
    assert stored.stale(doc, {"a.py": "x = 2\n"}) == ["a.py"]


def test_shards_partition_the_mutants():
    ids = [m.id for m in generate("m.py", EVERY_KIND)]
    slices = [[i for i in ids if in_shard(i, k, 3)] for k in (1, 2, 3)]
    assert sorted(i for s in slices for i in s) == sorted(ids)
    assert all(slices)


def test_gating_is_unrounded_honours_warn_only_and_the_overall_target():
    files = {"a.py": {"score": 89.99}, "b.py": {"score": None}, "c.py": {"score": 95.0}}
    for entry in files.values():
        entry.update(mutants=10, killed=0, survived=0, timeout=0, no_tests=0, equivalent=0)
    files["a.py"].update(killed=9)
    rules = {
        "a.py": [Target("a.py", mutation=90)],
        "b.py": [Target("b.py", mutation=90)],
        "c.py": [Target("c.py", percent=80), Target("*.py", mutation=99, warn_only=True)],
    }
    result = gating.evaluate(files, rules.get, overall=Target("overall", mutation=50))
    assert result["files"]["a.py"] | {"checks": None} == {
        "score": 89.99,
        "target": 90,
        "checks": None,
        "met": False,
        "gating": True,
        "gating_met": False,
    }
    assert result["files"]["b.py"]["gating_met"] is True  # no mutants: nothing to kill
    assert (result["files"]["c.py"]["met"], result["files"]["c.py"]["gating_met"]) == (False, True)
    assert result["unmet"] == ["a.py", "overall"]  # 9 of 30 killed overall


def test_survivors_name_line_operator_change_and_function():
    mutant = generate("m.py", EVERY_KIND)[0]
    doc = stored.document("m", ["m.py"], [stored.entry(mutant, "survived", ("t::x",))])
    assert gating.survivors(doc, "m.py") == [
        {
            "id": mutant.id,
            "line": 2,
            "operator": mutant.operator,
            "function": "pick",
            "before": "total = 0",
            "after": gating.changed_lines(mutant.diff)[1],
        }
    ]


def test_covering_tests_come_from_the_mutated_lines_fastest_first():
    tests = LineTests(
        {"a.py": {1: frozenset({""}), 3: frozenset({"t::slow", "t::fast"}), 4: frozenset({"t::other", ""})}},
        durations={"t::slow": 2.0, "t::fast": 0.5, "t::other": 1.0},
        overhead=1.0,
    )
    assert tests.covering("a.py", (3, 3)) == ("t::fast", "t::slow")
    # A line a test ran again after the import (a test that re-imports the module, found on toolz):
    # the import ran it for every test of the file, so they all see a mutant of it.
    assert tests.covering("a.py", (4, 4)) == ("t::fast", "t::other", "t::slow")
    assert tests.covering("a.py", (1, 1)) == (
        "t::fast",
        "t::other",
        "t::slow",
    )  # import time: all of the file's
    assert tests.covering("a.py", (1, 1), users=frozenset({4})) == ("t::other", "t::fast", "t::slow")
    assert tests.covering("a.py", (2, 2)) == ()
    only_imported = LineTests({"r.py": {1: frozenset({""})}}, durations=tests.durations, overhead=1.0)
    assert only_imported.covering("r.py", (1, 1)) == ("t::fast", "t::other", "t::slow")  # the session's
    assert tests.timeout(("t::fast", "t::slow"), Timing(factor=2, slack=0.5)) == 2 * (1.0 + 2.5) + 0.5


def test_tests_whose_file_names_the_mutated_function_come_first_the_set_unchanged(tmp_path):
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests/test_unit.py").write_text("from app import parse_token\n", encoding="utf-8")
    (tmp_path / "tests/test_stack.py").write_text("def test_connect(client): ...\n", encoding="utf-8")
    (tmp_path / "tests/test_api.py").write_text("Consumer.handle_join  # parse_tokens\n", encoding="utf-8")
    tests = ("tests/test_stack.py::test_a", "tests/test_unit.py::test_b", "tests/test_api.py::test_c")
    naming = Naming(tmp_path)
    assert naming.first(tests, mutant_words("parse_token")) == (
        "tests/test_unit.py::test_b",  # names it; `parse_tokens` is another word
        "tests/test_stack.py::test_a",
        "tests/test_api.py::test_c",
    )
    assert naming.first(tests, mutant_words("Consumer.handle_join"))[0] == "tests/test_api.py::test_c"
    assert naming.first(tests, ["LIMIT"]) == tests  # named nowhere: order kept
    assert mutant_words(None) == ()  # module level: `covering`'s users go first instead
    assert naming.first(tests, mutant_words("Consumer.__init__")) == (tests[2], *tests[:2])
    assert naming.first(tests, mutant_words("__call__")) == tests  # a dunder names nothing
    assert naming.first(("gone/test_x.py::t", *tests), ["parse_token"])[:2] == (tests[1], "gone/test_x.py::t")


def test_a_mutant_runs_its_likeliest_killers_first_in_a_run_of_their_own():
    tests = tuple(f"t::{n}" for n in range(40))
    quick = dict.fromkeys(tests, 0.25)
    first, rest = stages(tests, quick, start=0.5)
    assert (first, rest) == (tests[:4], tests[4:])  # FIRST_STAGE seconds of recorded time
    assert FIRST_STAGE == 1.0
    slow = dict.fromkeys(tests, 1.0)
    assert [len(stage) for stage in stages(tests, slow, start=0.5)] == [4, 36]  # a tenth of their 40 s
    assert stages(tests[:3], quick, start=0.5) == [tests[:3]]  # all within the first run: no second one
    assert stages(tests[:6], quick, start=0.5) == [tests[:6]]  # the rest (0.5 s) not worth a start-up
    assert stages(tests[:7], quick, start=0.5) == [tests[:4], tests[4:7]]
    assert stages(tests, quick, start=9.0) == [tests]  # a plain pytest's start-up outweighs the rest
    assert stages(("t::hang",), {"t::hang": 30.0}, start=0.5) == [("t::hang",)]
    assert stages(tests[:3], {}, start=0.0) == [tests[:3]]  # no recorded times: one run


def test_contexts_are_read_from_a_coverage_data_file(tmp_path):
    data = CoverageData(basename=str(tmp_path / ".coverage"))
    source = tmp_path / "pkg" / "a.py"
    for context, lines in (
        ("", [1]),
        ("t.py::test_x|setup", [2]),
        ("t.py::test_x|run", [3]),
        ("t.py::bad|run", [3]),
    ):
        data.set_context(context)
        data.add_lines({str(source): lines})
    data.write()
    lines = read_contexts(tmp_path / ".coverage", tmp_path, ["pkg/a.py"], failed={"t.py::bad"})
    assert lines == {"pkg/a.py": {1: {""}, 2: {"t.py::test_x"}, 3: {"t.py::test_x"}}}
    assert node_id("a.py::T::t[x|y]|teardown") == "a.py::T::t[x|y]"
    # a `harness run`'s per-test contexts: the steps' label, then the node id (which may hold spaces)
    assert node_id("harness-steps:1,3 a.py::t[a b|run]") == "a.py::t[a b|run]"
    assert node_id("harness-steps: a.py::t") == "a.py::t"  # a test in no step


def test_a_steps_figures_take_its_tests_per_test_contexts_and_the_import_time_lines():
    step = re.compile(step_contexts(3))
    ours = ("", "harness-steps:3", "harness-steps:1,3 a.py::t", "harness-steps:3,4 b")
    assert all(step.search(context) for context in ours)
    others = ("harness-steps:13 a.py::t", "harness-steps:1,33", "harness-steps: x")
    assert not any(step.search(context) for context in others)


def test_copies_take_what_git_lists_and_never_the_venv_or_reports(tmp_path):
    for rel in (
        "pkg/__init__.py",
        "pkg/a.py",
        "tests/test_a.py",
        ".venv/lib/x.py",
        "reports/m/r.json",
        "build/ignored.py",
        "src/lib/__init__.py",
        "src/lib/b.py",
    ):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("", encoding="utf-8")
    (tmp_path / ".gitignore").write_text("build/\n", encoding="utf-8")
    expected = [
        ".gitignore",
        "pkg/__init__.py",
        "pkg/a.py",
        "src/lib/__init__.py",
        "src/lib/b.py",
        "tests/test_a.py",
    ]
    assert project_files(tmp_path, "reports") == sorted([*expected, "build/ignored.py"])  # no git: a walk
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    assert project_files(tmp_path, "reports") == expected
    assert import_roots(["pkg/a.py", "src/lib/b.py"], set(expected)) == [".", "src"]


def test_the_copy_comes_first_on_pythonpath(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", "/original/src")
    (tmp_path / "src").mkdir()
    env = environment(tmp_path, [".", "src"])
    assert env["PYTHONPATH"].split(":") == [str(tmp_path), str(tmp_path / "src"), "/original/src"]
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"


def test_the_test_that_killed_a_neighbour_runs_first_and_the_set_stays(tmp_path):
    mutants = generate("pkg/pick.py", EVERY_KIND)
    first, second = (Job(m, ("t::a", "t::b", "t::c"), 1.0) for m in mutants[:2])
    log = tmp_path / "pytest.log"
    captured = "----- Captured log call -----\nERROR    app.auth:auth.py:58 login failed\n"
    log.write_text(
        f"F\n{captured}=== short test summary info ===\nFAILED t::c - AssertionError: x\n1 failed\n"
    )
    killers = Killers()
    assert killers.order(first) == ("t::a", "t::b", "t::c")
    killers.killed(first, failed_test(log))
    assert killers.order(second) == ("t::c", "t::a", "t::b")
    assert killers.order(Job(mutants[1], ("t::a",), 1.0)) == ("t::a",)


def test_the_result_section_carries_scores_targets_survivors_and_equivalents():
    first, second, third = generate("m.py", EVERY_KIND)[:3]
    mutants = [
        stored.entry(first, "survived", ("t::x",)),
        stored.entry(second, "killed", ("t::x",)),
        stored.entry(third, "equivalent", ("t::x",), "same behaviour"),
    ]
    doc = stored.document("m", ["m.py"], mutants, finished_at="2026-01-01T00:00:00+00:00", commit=None)
    section = gating.result_section(doc, gating.evaluate(doc["files"], lambda p: [Target(p, mutation=60)]))
    entry = section["files"]["m.py"]
    assert (entry["score"], entry["target"], entry["gating_met"]) == (50.0, 60, False)
    assert [s["id"] for s in entry["survivors"]] == [first.id]
    assert entry["equivalents"] == [
        {"id": third.id, "line": third.line, "operator": third.operator, "rationale": "same behaviour"}
    ]
    assert (section["overall"]["score"], section["unmet"]) == (50.0, ["m.py"])


def test_files_are_named_from_the_root_or_the_working_directory(tmp_path):
    from harness.mutation.engine import chosen_files
    from harness.spec.model import ModuleSpec
    from harness.spec.project import Project

    (tmp_path / "calc").mkdir()
    (tmp_path / "calc/ops.py").write_text("", encoding="utf-8")
    project, spec = Project(tmp_path), ModuleSpec(tmp_path / "m.yml", "m", "M", ("calc",))
    measured = ["calc/__init__.py", "calc/ops.py", "../outside/x.py"]
    assert chosen_files(project, spec, measured, (), tmp_path) == ["calc/__init__.py", "calc/ops.py"]
    assert chosen_files(project, spec, measured, ("calc/ops.py",), tmp_path / "calc") == ["calc/ops.py"]
    assert chosen_files(project, spec, measured, ("ops.py", "./ops.py"), tmp_path / "calc") == ["calc/ops.py"]
    with pytest.raises(
        UsageError, match=r"--file ../outside/x.py: not a file the module measures \(source: calc\)"
    ):
        chosen_files(project, spec, measured, ("../outside/x.py",), tmp_path)


def test_verdicts_reach_the_store_as_they_come_and_fold_into_the_cache(tmp_path):
    project = Project(tmp_path)
    jobs = [Job(m, ("t::a",), 1.0) for m in generate("pkg/pick.py", EVERY_KIND)[:3]]
    keys = {job.mutant.id: f"key-{n}" for n, job in enumerate(jobs)}
    shown = []
    verdicts = stored.Verdicts(project, "m")
    keep = Keep(verdicts, keys, lambda job, verdict: shown.append(verdict))
    keep(jobs[0], "killed", "t::a")  # with the test whose failure killed it
    first = {"key": "key-0", "status": "killed", "killed_by": "t::a"}
    assert stored.Verdicts(project, "m").cached() == {jobs[0].mutant.id: first}
    keep(jobs[1], "survived")
    journal = layout.files(project, "m").mutation_journal
    with journal.open("a") as handle:
        handle.write('{"id": "cut short by a ki')  # a kill in the middle of a line loses that line only
    assert set(stored.Verdicts(project, "m").cached()) == {jobs[0].mutant.id, jobs[1].mutant.id}
    keep(jobs[2], "timeout")
    verdicts.fold()  # the end of the run, however it ended
    assert not journal.exists()
    assert stored.Verdicts(project, "m").cached() == {
        jobs[0].mutant.id: first,
        jobs[1].mutant.id: {"key": "key-1", "status": "survived"},
        jobs[2].mutant.id: {"key": "key-2", "status": "timeout"},
    }
    assert shown == ["killed", "survived", "timeout"]


def test_a_total_over_some_of_the_files_says_how_many():
    result = {"files": {"a.py": {}, "b.py": {}, "c.py": {}}, "mutation": {"files": {"a.py": {}}}}
    assert mutated_files(result) == (1, 3)
    assert mutation_total(100.0, (1, 3)) == "100.0% (1 of 3 files)"  # not a module-wide 100%
    assert mutation_total(92.5, (3, 3)) == "92.5%"
    assert mutation_total(None, (0, 3)) == "—"


def test_progress_is_a_line_per_tenth_and_never_silent_for_long():
    jobs = [Job(m, ("t::a",), 1.0) for m in generate("pkg/pick.py", EVERY_KIND)]
    now, lines = [0.0], []
    progress = _Progress(100, lines.append, verbose=False, clock=lambda: now[0])
    for _ in range(9):
        progress(jobs[0], "killed")
    assert lines == []
    progress(jobs[0], "survived")
    assert lines == ["  10/100 run: 9 killed, 1 survived"]
    now[0] += PROGRESS_EVERY
    progress(jobs[0], "killed")  # the 11th: not a tenth, but half a minute since the last line
    assert lines[-1] == "  11/100 run: 10 killed, 1 survived"
    progress(jobs[0], "killed")
    assert len(lines) == 2
