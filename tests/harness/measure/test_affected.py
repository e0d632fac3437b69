"""Affected tests: the record a real `harness run` keeps, and the selection it gives for real edits."""

import json

import pytest
import yaml

from harness.measure import affected, per_test
from harness.spec.catalog import find_spec as resolve_spec
from harness.spec.preflight import check_spec
from harness.spec.project import load_project
from harness.store import layout

SPEC = {
    "id": "mod-a",
    "title": "A",
    "source": ["calc"],
    "suites": ["suites/tests"],
    "record_tests": True,
}
TEST_READS = """\
from pathlib import Path


def test_reads_a_data_file():
    assert Path("docs/data.txt").read_text().strip() == "data"
"""


@pytest.fixture(scope="module")
def recorded(shared_throwaway):
    """The throwaway project after one whole `harness run` of a module that asks for the record."""
    project = shared_throwaway
    project.write("docs/data.txt", "data\n")
    project.write("README.md", "# readme\n")
    project.write("calc/table.json", "[]\n")  # beside the code, read by no test
    project.write("suites/tests/test_reads.py", TEST_READS)
    project.write("suites/mod-a/module.yml", yaml.safe_dump(SPEC))
    outcome = project.harness("run", "mod-a")
    assert outcome.exit_code == 0, outcome.output
    return project


@pytest.fixture
def tree(recorded):
    """Edits to the recorded project, undone after the test."""
    saved: dict = {}

    class Tree:
        root = recorded.root

        def write(self, rel: str, text: str) -> None:
            path = recorded.root / rel
            saved.setdefault(rel, path.read_bytes() if path.exists() else None)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")

        def replace(self, rel: str, old: str, new: str) -> None:
            text = (recorded.root / rel).read_text(encoding="utf-8")
            assert old in text
            self.write(rel, text.replace(old, new))

        def select(self) -> affected.Selection:
            project = load_project(recorded.root)
            spec = resolve_spec(project, "mod-a")
            return affected.select(project, spec.id, spec.path.digest(), check_spec(project, spec))

    yield Tree()
    for rel, data in saved.items():
        path = recorded.root / rel
        if data is None:
            path.unlink()
        else:
            path.write_bytes(data)


def test_the_record_holds_the_source_state_and_what_the_tests_read(recorded):
    project = load_project(recorded.root)
    record, why = per_test.read_record(project, "mod-a")
    assert record is not None, why
    assert record.sources["calc/ops.py"] == (recorded.root / "calc/ops.py").read_text(encoding="utf-8")
    assert record.files == per_test.digests(project)
    assert {"calc/ops.py", "suites/tests/test_ops.py", "suites/tests/test_box.py"} <= record.imported
    assert "docs/data.txt" in record.opened and "README.md" not in record.opened
    assert "suites/tests" in record.listed
    assert record.tests == {
        "suites/tests/test_ops.py::test_add",
        "suites/tests/test_ops.py::TestSign::test_positive",
        "suites/tests/test_ops.py::TestSign::test_negative",
        "suites/tests/test_box.py::TestBox::test_put_then_get",
        "suites/tests/test_reads.py::test_reads_a_data_file",
    }
    lines = record.lines(["calc/ops.py"])["calc/ops.py"]
    assert lines[10] == {"suites/tests/test_ops.py::TestSign::test_positive"}  # `if x > 0:` in sign()


def test_blob_ids_are_gits():
    assert per_test.blob_id(b"hello\n") == "ce013625030ba8dba906f756967f9e9ca394464a"


def test_nothing_changed_runs_nothing(tree):
    selection = tree.select()
    assert (selection.tests, selection.files, selection.total) == (frozenset(), (), 5)


def test_a_changed_function_body_runs_the_tests_that_ran_it(tree):
    tree.replace("calc/ops.py", "return -1", "return -2")
    assert tree.select().tests == {"suites/tests/test_ops.py::TestSign::test_positive"}
    tree.replace("calc/ops.py", "return self.value", "return self.value  # a comment\n        pass")
    assert tree.select().tests == {
        "suites/tests/test_ops.py::TestSign::test_positive",
        "suites/tests/test_box.py::TestBox::test_put_then_get",
    }


def test_comments_moves_and_new_functions_run_nothing(tree):
    text = (tree.root / "calc/ops.py").read_text(encoding="utf-8")
    tree.write("calc/ops.py", "# a comment first\n\n" + text + "\n\ndef brand_new():\n    return 1\n")
    assert tree.select().tests == frozenset()


def test_changed_and_new_test_files_run_whole(tree):
    tree.replace("suites/tests/test_box.py", "== 3", "== 3  # still")
    tree.write("suites/tests/test_new.py", "def test_new():\n    pass\n")
    selection = tree.select()
    assert selection.files == ("suites/tests/test_box.py", "suites/tests/test_new.py") and not selection.tests
    assert selection.to_json() == {"tests": [], "files": list(selection.files)}


@pytest.mark.parametrize(
    ("rel", "text", "reason"),
    [
        ("calc/ops.py", "LIMIT = 3\n", "calc/ops.py:1: module-level code changed (it runs at import"),
        ("conftest.py", "", "conftest.py changed (configuration or a conftest.py)"),
        ("pyproject.toml", "[project]\nname = 'x'\n", "pyproject.toml changed (configuration"),
        ("calc/extra.py", "def f():\n    return 1\n", "calc/extra.py is a new source file"),
        ("docs/data.txt", "other\n", "docs/data.txt changed: the tests read it"),
        ("calc/table.json", "{}", "calc/table.json changed beside the measured code or the suites"),
        ("suites/tests/helper.py", "X = 1\n", "suites/tests/helper.py was added to a directory the tests"),
        ("calc/data.bin", "new", "calc/data.bin was added to a directory the tests list"),
    ],
)
def test_what_the_record_cannot_answer_for_runs_every_test_and_says_why(tree, rel, text, reason):
    old = (tree.root / rel).read_text(encoding="utf-8") if (tree.root / rel).exists() else ""
    tree.write(rel, text + old if rel == "calc/ops.py" else text)
    selection = tree.select()
    assert selection.everything and selection.reason.startswith(reason), selection.reason
    assert "\n" not in selection.reason


def test_a_file_the_tests_never_read_changes_nothing(tree):
    tree.write("README.md", "# another readme\n")
    tree.write("notes/todo.txt", "later\n")
    assert tree.select().tests == frozenset()


def test_a_source_that_does_not_parse_runs_every_test(tree):
    tree.replace("calc/ops.py", "return a + b", "return a +")
    assert tree.select().reason == "calc/ops.py does not parse (SyntaxError)"


def test_a_changed_spec_or_no_record_runs_every_test(tree, recorded):
    tree.write("suites/mod-a/module.yml", yaml.safe_dump({**SPEC, "title": "Another"}))
    assert tree.select().reason == "the module's spec changed since the record was made"
    at = layout.files(load_project(recorded.root), "mod-a")
    doc = json.loads(at.per_test_meta.read_text(encoding="utf-8"))
    tree.write(at.per_test_meta.relative_to(recorded.root).as_posix(), json.dumps({**doc, "version": 1}))
    assert tree.select().reason.startswith("the record does not hold the source it was made from")
    at.per_test_data.rename(recorded.root / "kept.coverage")
    try:
        assert tree.select().reason.startswith("no record of which test ran which line yet")
    finally:
        (recorded.root / "kept.coverage").rename(at.per_test_data)
