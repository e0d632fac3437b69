"""The patch gate and the patch's mutants, on plain data: what `harness check --changed` decides."""

import pytest

from harness.evaluate.patch import (
    Check,
    FilePatch,
    PatchCoverage,
    gate,
    on_changed_line,
    patch_mutation,
)
from harness.evaluate.patch_json import document
from harness.spec.changes import ChangedFile, Changes
from harness.spec.model import PatchTarget

CHANGES = Changes(
    "origin/main",
    "b" * 40,
    "h" * 40,
    (ChangedFile("pkg/utils.py", (210, 211, 212, 213, 214, 219)), ChangedFile("README.md", (3,))),
    ("pkg/gone.py",),
)
# 16 changed statements, 14 run; 4 branches from changed lines, 3 taken.
COVERAGE = PatchCoverage(
    (
        FilePatch("pkg/a.py", tuple(range(1, 11)), tuple(range(1, 11)), (), (), 2, 2),
        FilePatch(
            "pkg/utils.py",
            (210, 211, 212, 213, 214, 219),
            (210, 211, 213, 214),
            (212, 219),
            ((212, 214),),
            2,
            1,
        ),
    )
)


def _entry(mutant_id, line, status, file="pkg/utils.py"):
    return {
        "id": mutant_id,
        "file": file,
        "line": line,
        "operator": "number",
        "function": "f",
        "diff": f"--- a/{file}\n+++ b/{file}\n",
        "status": status,
        "tests": [],
        "rationale": None,
    }


ENTRIES = [
    _entry("k1", 210, "killed"),
    _entry("k2", 211, "killed"),
    _entry("t1", 211, "timeout"),
    _entry("s1", 212, "survived"),
    _entry("n1", 219, "no_tests"),
    _entry("e1", 219, "equivalent"),
    _entry("off", 300, "survived"),  # not on a changed line
    _entry("other", 210, "survived", file="pkg/b.py"),  # another file's line 210
]


def test_only_mutants_on_changed_lines_count_and_survivors_are_listed():
    mutation = patch_mutation(ENTRIES, CHANGES)
    assert [m.id for m in mutation.mutants] == ["k1", "k2", "t1", "s1", "e1", "n1"]
    assert mutation.counts() == {
        "mutants": 6,
        "killed": 2,
        "survived": 1,
        "timeout": 1,
        "no_tests": 1,
        "equivalent": 1,
    }
    assert mutation.score() == 60.0  # (2 killed + 1 timeout) / (6 - 1 equivalent)
    assert [(m.id, m.line, m.status) for m in mutation.survivors] == [
        ("s1", 212, "survived"),
        ("n1", 219, "no_tests"),
    ]
    assert on_changed_line(CHANGES, "pkg/utils.py", 219) and not on_changed_line(CHANGES, "pkg/b.py", 219)


@pytest.mark.parametrize(
    ("target", "expected", "passed"),
    [
        (PatchTarget(coverage=87.5), [Check("coverage", 87.5, 87.5, True)], True),
        (PatchTarget(coverage=90), [Check("coverage", 90, 87.5, False)], False),
        (PatchTarget(branches=75), [Check("branches", 75, 75.0, True)], True),
        (PatchTarget(mutation=80), [Check("mutation", 80, 60.0, False)], False),
        (
            PatchTarget(coverage=90, mutation=80, warn_only=True),
            [Check("coverage", 90, 87.5, False), Check("mutation", 80, 60.0, False)],
            True,
        ),
        (PatchTarget(), [], True),
    ],
)
def test_each_target_is_checked_against_the_patch(target, expected, passed):
    verdict = gate(COVERAGE, patch_mutation(ENTRIES, CHANGES), target)
    assert list(verdict.checks) == expected
    assert verdict.passed is passed and verdict.met is all(c.met for c in expected)


def test_a_change_with_no_measurable_line_passes_and_says_so():
    nothing = PatchCoverage((FilePatch("pkg/a.py", (5,), (), ()),))
    verdict = gate(nothing, None, PatchTarget(coverage=90, branches=80, mutation=80))
    assert verdict.passed and not verdict.measurable
    assert [c.note for c in verdict.checks] == [
        "no changed statement",
        "no branch starts on a changed line",
        "no changed statement",
    ]


def test_a_mutation_target_without_a_patch_mutation_run_is_missed_as_not_measured():
    verdict = gate(COVERAGE, None, PatchTarget(mutation=50))
    assert not verdict.passed
    assert verdict.checks == (
        Check("mutation", 50, None, False, "not measured (harness mutate MODULE --changed)"),
    )
    none_on_lines = gate(COVERAGE, patch_mutation([], CHANGES), PatchTarget(mutation=50))
    assert none_on_lines.passed and none_on_lines.checks[0].note == "no mutant on the changed lines"


def test_without_a_patch_key_nothing_gates():
    verdict = gate(COVERAGE, None, None)
    assert verdict.checks == () and verdict.passed and verdict.measurable


def test_patch_json_holds_base_head_files_totals_mutants_and_gate():
    mutation = patch_mutation(ENTRIES, CHANGES)
    target = PatchTarget(coverage=90, mutation=50)
    doc = document("mod", CHANGES, COVERAGE, mutation, target, gate(COVERAGE, mutation, target))

    assert doc["base"] == {"ref": "origin/main", "commit": "b" * 40}
    assert doc["head"] == {"commit": "h" * 40, "uncommitted": False}
    utils = doc["files"]["pkg/utils.py"]
    assert (utils["changed"], utils["covered"], utils["missing"]) == (
        [210, 211, 212, 213, 214, 219],
        [210, 211, 213, 214],
        [212, 219],
    )
    assert (utils["lines_percent"], utils["missing_branches"], utils["mutation"]["score"]) == (
        pytest.approx(200 / 3),
        ["212->214"],
        60.0,
    )
    assert doc["totals"] == {
        "changed": 16,
        "statements": 16,
        "covered_lines": 14,
        "missing_lines": 2,
        "lines_percent": 87.5,
        "branches": 4,
        "covered_branches": 3,
        "branches_percent": 75.0,
        "percent": 85.0,
    }
    assert doc["mutation"]["score"] == 60.0 and [s["id"] for s in doc["mutation"]["survivors"]] == [
        "s1",
        "n1",
    ]
    assert doc["gate"]["passed"] is False and [c["met"] for c in doc["gate"]["checks"]] == [False, True]
    assert doc["outside"] == ["README.md"] and doc["deleted"] == ["pkg/gone.py"] and doc["affected"] is None
