"""`harness site` on a throwaway project that ran for real: the site, built again the same, refusals."""

import json

import pytest

from harness.spec.project import load_project
from harness.store import layout
from harness.store import mutation as record
from harness.store.mutation_schema import DEFAULT_THRESHOLDS

TEST = "suites/tests/test_ops.py::test_add"
DIFF = "--- a/calc/ops.py\n+++ b/calc/ops.py\n@@ -5 +5 @@\n-    return a + b\n+    return a - b\n"


@pytest.fixture(scope="module")
def ran(shared_throwaway):
    """One real `harness run`, and a mutation record stored as `harness mutate` stores it."""
    project = shared_throwaway
    project.spec("mod-s", suites=["suites/tests/test_ops.py"], targets={"calc/ops.py": {"mutation": 90}})
    assert project.harness("run", "mod-s").exit_code in (0, 1)
    text = (project.root / "calc/ops.py").read_text(encoding="utf-8")
    mutant = {
        "id": "0a",
        "file": "calc/ops.py",
        "line": 5,
        "operator": "arithmetic",
        "function": "add",
        "diff": DIFF,
        "status": "survived",
        "tests": [TEST],
        "rationale": None,
    }
    doc = record.document("mod-s", ["calc/ops.py"], [mutant], sources={"calc/ops.py": record.digest(text)})
    record.save(layout.files(load_project(project.root), "mod-s"), doc, DEFAULT_THRESHOLDS)  # no texts
    return project


def files_of(folder) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_the_site_has_the_index_each_report_coverage_and_mutation(ran):
    outcome = ran.harness("site")
    assert outcome.exit_code == 0, outcome.output
    out = ran.root / "reports/site"
    assert outcome.output == f"{out / 'index.html'}: 1 module(s)\n"
    index = (out / "index.html").read_text(encoding="utf-8")
    figure = json.loads((ran.root / "reports/mod-s/results.json").read_text(encoding="utf-8"))["overall"]
    assert f"{figure['percent']:.1f}%" in index and 'href="mod-s/index.html"' in index
    assert "mod-s Completion Status" in (out / "mod-s/index.html").read_text(encoding="utf-8")
    assert (out / "mod-s/htmlcov/index.html").is_file()
    mutation = (out / "mod-s/mutation.html").read_text(encoding="utf-8")
    assert "return a + b" in mutation  # the source, taken from the unchanged file
    assert not any(part.startswith(".work") for part in files_of(out))


def test_building_again_gives_the_same_bytes(ran, tmp_path):
    assert ran.harness("site", "--out", str(tmp_path / "one")).exit_code == 0
    assert ran.harness("site", "--out", str(tmp_path / "two")).exit_code == 0
    assert ran.harness("site", "--out", str(tmp_path / "one")).exit_code == 0  # replaces its own site
    assert files_of(tmp_path / "one") == files_of(tmp_path / "two")


def test_a_directory_harness_did_not_build_is_left_alone(ran, tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine/keep.txt").write_text("mine", encoding="utf-8")
    outcome = ran.harness("site", "--out", str(tmp_path / "mine"))
    assert outcome.exit_code == 2
    refusal = "exists and is not a site harness built; remove it or choose another --out"
    assert outcome.output == f"Error: {tmp_path / 'mine'}: {refusal}\n"
    assert (tmp_path / "mine/keep.txt").read_text(encoding="utf-8") == "mine"


def test_an_unreadable_result_stops_the_site_as_every_other_command(throwaway, tmp_path):
    throwaway.spec("mod-s", suites=["suites/tests/test_ops.py"])
    assert throwaway.harness("run", "mod-s").exit_code == 0
    (throwaway.root / "reports/mod-s/results.json").write_text("{", encoding="utf-8")
    outcome = throwaway.harness("site", "--out", str(tmp_path / "site"))
    assert outcome.exit_code == 2
    assert outcome.output.startswith("Error: ") and "results.json: unreadable result" in outcome.output
    assert not (tmp_path / "site").exists()
