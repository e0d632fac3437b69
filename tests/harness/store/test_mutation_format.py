"""mutation.json on disk: the schema's document with the harness's fields, read back to the same record."""

import json
import subprocess
from pathlib import Path

import pytest

from harness.errors import DataError
from harness.spec.project import load_project
from harness.store import layout, mutation_format
from harness.store import mutation as record
from harness.store import mutation_schema as schema

ROOT = Path(__file__).resolve().parents[3]
REAL = ROOT / "reports/module-6.7/mutation.json"
DIFF = "--- a/{f}\n+++ b/{f}\n@@ -1,2 +1,2 @@\n def f(x):\n-    return x > 0\n+    return x >= 0\n"


def mutant(n: int, status: str, tests=(), file="pkg/a.py", rationale=None, **extra) -> dict:
    return {
        "id": f"{n:012x}",
        "file": file,
        "line": 2,
        "operator": "comparison",
        "function": "f" if n % 2 else None,
        "diff": DIFF.format(f=file),
        "status": status,
        "tests": sorted(tests),
        "rationale": rationale,
        **extra,
    }


def sample(texts: bool = True) -> dict:
    mutants = [
        mutant(1, "killed", ["tests/test_a.py::test_one", "tests/test_a.py::TestB::test_two[1-x]"]),
        mutant(2, "survived", ["tests/test_a.py::test_one"]),
        mutant(3, "timeout", ["tests/test_b.py::test_slow"]),
        mutant(4, "no_tests"),
        mutant(5, "equivalent", ["tests/test_a.py::test_one"], rationale="x is never 0"),
        mutant(6, "killed", ["loose_id"], killed_by=["loose_id"]),
        mutant(7, "killed", ["tests/test_b.py::test_slow"], file="pkg/b.py"),
    ]
    meta = {"started_at": "2026-01-01T00:00:00+00:00", "finished_at": "2026-01-01T00:01:00+00:00"}
    sources = {"pkg/a.py": record.digest("def f(x):\n    return x > 0\n"), "pkg/b.py": "0" * 64}
    doc = record.document("mod", ["pkg/a.py", "pkg/b.py", "pkg/empty.py"], mutants, commit=None, **meta)
    doc["sources"] = sources
    if texts:
        doc["texts"] = {"pkg/a.py": "def f(x):\n    return x > 0\n", "pkg/empty.py": ""}
    return doc


def test_a_record_reads_back_the_same_with_every_status_and_both_kinds_of_test_id():
    doc = sample()
    data = json.loads(record.to_disk(doc, schema.DEFAULT_THRESHOLDS))
    assert record.from_disk(data) == doc


def test_a_record_without_texts_reads_back_without_them():
    doc = sample(texts=False)
    data = mutation_format.encode(doc)
    assert all(f["source"] == "" and f["source_known"] is False for f in data["files"].values())
    assert record.from_disk(data) == doc


def test_decoding_lists_the_files_in_order_and_the_store_counts_them():
    decoded = mutation_format.decode(mutation_format.encode(sample()))
    assert decoded["files"] == ["pkg/a.py", "pkg/b.py", "pkg/empty.py"]
    assert record.from_disk(mutation_format.encode(sample()))["files"] == sample()["files"]


def test_the_store_writes_the_standard_document_and_reads_either_format(throwaway):
    at = layout.files(load_project(throwaway.root), "mod")
    record.save(at, sample(), schema.Thresholds(95, 90))
    stored = json.loads(at.mutation.read_text(encoding="utf-8"))
    assert (stored["schemaVersion"], stored["thresholds"]) == ("2", {"high": 95, "low": 90})
    assert record.load(at) == sample()
    earlier = sample(texts=False)
    at.mutation.write_text(json.dumps(earlier), encoding="utf-8")
    assert record.load(at) == earlier
    at.mutation.write_text(json.dumps({"schemaVersion": "2", "files": {}}), encoding="utf-8")
    with pytest.raises(DataError, match=f"^{at.mutation}: a mutation-testing-report-schema document"):
        record.load(at)


def test_a_shard_is_stored_as_the_standard_document_and_read_back_with_its_files_listed(throwaway):
    at = layout.files(load_project(throwaway.root), "mod")
    doc = sample()
    shard = {"module": "mod", "shard": [1, 2], "files": list(doc["files"]), "order": ["a", "b"]}
    shard |= {k: doc[k] for k in ("started_at", "finished_at", "commit", "sources", "texts", "mutants")}
    record.save_shard(at, 1, 2, shard, schema.DEFAULT_THRESHOLDS)
    path = at.mutation_shard(1, 2)
    assert json.loads(path.read_text(encoding="utf-8"))["schemaVersion"] == "2"
    assert record.load_shard(path) == shard
    path.write_text(json.dumps(shard), encoding="utf-8")  # a shard stored before: plain JSON
    assert record.load_shard(path) == shard


def test_each_test_is_named_once_and_mutants_refer_to_it_by_id():
    data = mutation_format.encode(sample())
    names = [
        schema.join_test(path, t["name"]) for path, entry in data["testFiles"].items() for t in entry["tests"]
    ]
    assert sorted(names) == sorted({t for m in sample()["mutants"] for t in m["tests"]})
    assert data["testFiles"][""]["tests"] == [{"id": "0", "name": "loose_id"}]
    killed = data["files"]["pkg/a.py"]["mutants"][0]
    assert killed["coveredBy"] == ["1", "2"]  # ids in node id order: TestB::test_two, then test_one
    assert data["files"]["pkg/a.py"]["mutants"][5]["killedBy"] == ["0"]


def test_the_harness_fields_ride_along_where_the_schema_allows_them():
    data = mutation_format.encode(sample(), schema.Thresholds(95, 90))
    assert data["thresholds"] == {"high": 95, "low": 90}
    assert (data["module"], data["sources"]["pkg/b.py"]) == ("mod", "0" * 64)
    first = data["files"]["pkg/a.py"]["mutants"][4]
    assert first["status"] == "Ignored" and first["statusReason"] == "x is never 0"
    assert (first["line"], first["function"], first["diff"]) == (2, "f", DIFF.format(f="pkg/a.py"))


def test_the_file_has_one_mutant_a_line():
    text = mutation_format.dumps(mutation_format.encode(sample()))
    lines = text.splitlines()
    assert sum(1 for line in lines if line.lstrip().startswith('{"id":"00000000000')) == 7
    assert text.endswith("}\n") and json.loads(text)["files"]["pkg/empty.py"]["mutants"] == []


def test_a_record_in_the_earlier_format_is_read_as_it_is():
    earlier = {k: v for k, v in sample(texts=False).items()}
    assert record.from_disk(json.loads(json.dumps(earlier))) == earlier


@pytest.mark.parametrize(
    ("data", "says"),
    [
        ([], "expected a JSON object"),
        ({"module": "m"}, "no files and mutants"),
        ({"schemaVersion": "2", "files": {}}, "did not write"),
        ({"schemaVersion": "2", "module": "m", "files": {"a.py": {"source": "", "mutants": [{}]}}}, "Key"),
    ],
    ids=["not-an-object", "earlier-without-mutants", "someone-elses", "broken-mutant"],
)
def test_what_is_not_a_record_is_a_data_error(data, says):
    with pytest.raises(DataError, match=says):
        mutation_format.decode(data)


def test_metadata_may_not_take_a_key_the_schema_defines():
    with pytest.raises(ValueError, match="thresholds"):
        mutation_format.encode({**sample(), "thresholds": 1})


def test_texts_are_taken_only_where_they_are_what_the_mutants_were_made_from():
    doc = sample(texts=False)
    text = "def f(x):\n    return x > 0\n"
    found = record.with_texts(doc, {"pkg/a.py": text, "pkg/b.py": "changed"})
    assert found["texts"] == {"pkg/a.py": text}
    assert record.with_texts(doc, {"pkg/b.py": "changed"}) is doc


def _texts_of(doc: dict) -> dict[str, str]:
    """The real record's sources, from the working tree or else from git at the record's commit."""
    texts = {}
    for path in doc["sources"]:
        try:
            texts[path] = (ROOT / path).read_text(encoding="utf-8")
        except OSError:
            texts[path] = ""
        if record.digest(texts[path]) != doc["sources"][path]:
            shown = subprocess.run(
                ["git", "show", f"{doc['commit']}:{path}"], cwd=ROOT, capture_output=True, text=True
            )
            texts[path] = shown.stdout
    return record.with_texts(doc, texts).get("texts", {})


@pytest.fixture(scope="module")
def real_record() -> dict:
    """Module 6.7's committed mutation record (2,143 mutants), as stored, with its sources."""
    doc = record.from_disk(json.loads(REAL.read_text(encoding="utf-8")))
    texts = _texts_of(doc)
    if len(texts) != len(doc["files"]):
        pytest.skip("module 6.7's sources at the record's commit are not to be had (a shallow clone?)")
    return {**doc, "texts": texts}


def test_module_6_7s_record_is_under_3_mb_and_loses_nothing(real_record):
    text = mutation_format.dumps(mutation_format.encode(real_record))
    assert len(text.encode("utf-8")) < 3_000_000
    back = record.from_disk(json.loads(text))
    assert back == real_record
    stored = json.loads(REAL.read_text(encoding="utf-8"))
    if "schemaVersion" not in stored:  # the committed record is still in the earlier format
        assert {k: v for k, v in back.items() if k != "texts"} == stored
