"""PATCH.md, the "This change" section, `check --changed`'s lines and the annotations, from patch.json.

The inputs are made by the real evaluation (`patch_coverage`'s figures as plain data, `patch_mutation`,
`gate`, `document`); the outputs are compared with gold files in tests/harness/report/gold/patch.*
(`goldtest`: a difference keeps the actual output in actual/ and fails).
"""

import pytest

from harness.evaluate.patch import FilePatch, PatchCoverage, gate, patch_mutation
from harness.evaluate.patch_json import document, module_files
from harness.report import patch as render
from harness.spec.changes import ChangedFile, Changes
from harness.spec.model import PatchTarget
from tests.harness.report.goldtest import compare

CHANGES = Changes(
    "origin/main",
    "1234567890ab" + "c" * 28,
    "abcdef012345" + "d" * 28,
    (
        ChangedFile("app/utils.py", (210, 211, 212, 213, 214, 219)),
        ChangedFile("app/views.py", tuple(range(1, 11))),
        ChangedFile("README.md", (3,)),
    ),
    ("app/old.py",),
)
COVERAGE = PatchCoverage(
    (
        FilePatch(
            "app/utils.py",
            (210, 211, 212, 213, 214, 219),
            (210, 211, 213, 214),
            (212, 219),
            ((212, 214),),
            2,
            1,
        ),
        FilePatch("app/views.py", tuple(range(1, 11)), tuple(range(1, 11)), (), (), 2, 2),
    )
)
DIFF = (
    "--- a/app/utils.py\n+++ b/app/utils.py\n@@ -212 +212 @@\n"
    "-    total = count + 1\n+    total = count + 2\n"
)
ENTRIES = [
    {
        "id": f"m{i}",
        "file": "app/utils.py",
        "line": line,
        "operator": "number",
        "function": "batch",
        "diff": DIFF,
        "status": status,
    }
    for i, (line, status) in enumerate(
        [
            (210, "killed"),
            (211, "killed"),
            (213, "timeout"),
            (212, "survived"),
            (219, "no_tests"),
            (219, "equivalent"),
        ]
    )
]


def _doc(target: PatchTarget | None, entries=ENTRIES, coverage=COVERAGE, affected=None) -> dict:
    mutation = None if entries is None else patch_mutation(entries, CHANGES)
    return document("mod-a", CHANGES, coverage, mutation, target, gate(coverage, mutation, target), affected)


RECORDED = {
    "app/utils.py": {"percent": 91.25, "lines_percent": 92.0, "branches_percent": 88.0, "statements": 240},
    "app/views.py": {"percent": 100.0, "lines_percent": 100.0, "branches_percent": None, "statements": 40},
}
SELECTED = {"app/utils.py": {"percent": 31.5, "statements": 240}, "app/views.py": {"percent": 0.0}}
AFFECTED = {
    "tests": 12,
    "of": 319,
    "reason": None,
    "counts": {"passed": 11, "failed": 1, "skipped": 0, "errors": 0},
    "failure": None,
    "files": module_files(RECORDED, SELECTED, frozenset({"app/utils.py"})),
}
FAILED = _doc(PatchTarget(coverage=90, branches=70, mutation=80), affected=AFFECTED)
WARNED = _doc(PatchTarget(coverage=90, warn_only=True), entries=None)
NOTHING = _doc(
    PatchTarget(coverage=90),
    entries=None,
    coverage=PatchCoverage((FilePatch("app/views.py", (4,), (), ()),)),
    affected={"tests": 319, "of": 319, "reason": "conftest.py changed"},
)
CASES = {"failed": FAILED, "warned": WARNED, "nothing": NOTHING}


def test_headline_says_the_change_in_one_line():
    assert render.headline(FAILED) == (
        "patch coverage 87.5% (14 of 16 lines; missing: utils.py 212, 219), branches 75% (3 of 4),"
        " mutation 60% (3 of 5; 2 survived)"
    )
    assert (
        render.headline(NOTHING)
        == "patch coverage: no changed statement in the module's files (1 changed line)"
    )


def test_percents_never_round_up_to_a_target_they_miss():
    assert [render.percent(v) for v in (99.96, 0.01, 80.0, 87.5, None)] == [
        "99.9%",
        "0.1%",
        "80%",
        "87.5%",
        "—",
    ]


def test_check_lines_name_the_file_and_lines_or_survivors_of_each_missed_target():
    assert render.check_lines(FAILED) == [
        "patch: coverage 87.5% < target 90% (missing: utils.py 212, 219)",
        "patch: mutation 60% < target 80% (survived: app/utils.py:212 number, app/utils.py:219 number)",
        f"patch: {render.headline(FAILED)}",
        "patch: FAILED",
    ]
    assert render.check_lines(NOTHING)[-1] == "patch: passed: no line of the change can be measured"
    assert render.check_lines(WARNED)[-1] == "patch: missed, warn only"


def test_files_the_affected_tests_did_not_run_carry_the_whole_runs_figures_marked_so():
    files = AFFECTED["files"]
    assert files["app/utils.py"] == {
        "percent": 31.5,
        "lines_percent": None,
        "branches_percent": None,
        "statements": 240,
        "missed": None,
        "partial": True,
    }
    assert files["app/views.py"]["percent"] == 100.0 and files["app/views.py"]["carried"] == "record"
    assert render.affected_lines(FAILED) == [
        "mod-a: 12 of 319 tests (affected by the change): 11 passed, 1 failed",
        "  app/utils.py   31.5%  (the affected tests only)",
        "  app/views.py    100%  (carried from the last whole run)",
    ]
    assert render.affected_lines(NOTHING) == []  # every test ran: the module's own table says it all


def test_annotations_sit_on_the_exact_changed_lines():
    lines = render.annotations(FAILED)
    assert lines[0].startswith("::error file=app/utils.py,line=212,endLine=212,title=Changed lines not run")
    assert lines[1].startswith("::error file=app/utils.py,line=219,endLine=219,")
    assert lines[2].startswith("::error file=app/utils.py,line=212,title=Mutant survived (number)::")
    assert all(line.startswith("::warning ") for line in render.annotations(WARNED))
    assert render.annotations(FAILED, limit=2)[-1] == "::notice::2 more annotations; see PATCH.md"


@pytest.mark.parametrize("case", sorted(CASES))
def test_reports_match_gold(case):
    doc = CASES[case]
    compare(render.patch_markdown(doc), f"patch.{case}.PATCH.md")
    compare(render.change_section(doc), f"patch.{case}.summary.md")
    compare("\n".join([*render.annotations(doc), "--", *render.check_lines(doc)]) + "\n", f"patch.{case}.txt")
