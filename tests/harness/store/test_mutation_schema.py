"""The harness's mutation record as the published mutation-testing-report-schema's document."""

import hashlib
import json
from pathlib import Path

import jsonschema
import pytest

from harness.mutation.generate import generate
from harness.spec.model import Target
from harness.store import mutation as record
from harness.store import mutation_format
from harness.store import mutation_schema as schema

SCHEMA_DIR = Path(__file__).parent / "schema"
SCHEMA_FILE = SCHEMA_DIR / "mutation-testing-report-schema.json"

SOURCE = '''\
"""Flags, arithmetic and strings: a mutant of each kind the operators make."""

LIMIT = 10


def check(x, name="café"):
    if x > 0 and not False:
        return x + 1, f"{name}: ok"
    return [x - LIMIT for _ in range(2)], "été ✓ 👍 " + name
'''


def published_schema() -> dict:
    """The schema file as the npm package publishes it (scripts/refresh_mutation_assets.py vendors it)."""
    manifest = json.loads((SCHEMA_DIR / "mutation-testing-report-schema.manifest.json").read_text("utf-8"))
    body = SCHEMA_FILE.read_bytes()
    assert hashlib.sha256(body).hexdigest() == manifest["sha256"], "the vendored schema was edited by hand"
    return json.loads(body)


def _unique_items(validator, unique, instance, schema_):
    """jsonschema's own check compares every pair of items (seconds for 500 mutants); JSON text with
    sorted keys tells equal items apart just as well, in one pass."""
    if unique and validator.is_type(instance, "array"):
        texts = [json.dumps(item, sort_keys=True) for item in instance]
        if len(set(texts)) != len(texts):
            yield jsonschema.ValidationError(f"{instance!r} has non-unique elements")


Validator = jsonschema.validators.extend(jsonschema.Draft7Validator, {"uniqueItems": _unique_items})


def test_the_fast_uniqueness_check_still_finds_repeats():
    spec = {"type": "array", "uniqueItems": True}
    assert not Validator(spec).is_valid([{"a": 1, "b": 2}, {"b": 2, "a": 1}])
    assert Validator(spec).is_valid([{"a": 1}, {"a": 2}])


def validate(document: dict) -> None:
    validator = Validator(published_schema())
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors[:5]]


def utf16_offset(line: str, column: int) -> int:
    """A schema column (1-based, UTF-16 code units) as an index into the Python string `line`."""
    units = 0
    for index, char in enumerate(line):
        if units >= column - 1:
            return index
        units += len(char.encode("utf-16-le")) // 2
    return len(line)


def apply(source: str, found: schema.Change) -> str:
    """`source` with the change put in, as a reader of the schema does it (lines split at "\\n")."""
    lines = source.split("\n")

    def offset(line: int, column: int) -> int:
        return sum(len(x) + 1 for x in lines[: line - 1]) + utf16_offset(lines[line - 1], column)

    return source[: offset(*found.start)] + found.replacement + source[offset(*found.end) :]


@pytest.mark.parametrize(
    "text",
    [SOURCE, SOURCE.rstrip("\n"), SOURCE.replace("\n", "\r\n")],
    ids=["newline", "no-final-newline", "crlf"],
)
def test_location_and_replacement_make_exactly_the_mutant(text):
    mutants = generate("pkg/m.py", text)
    assert len(mutants) >= 15
    for mutant in mutants:
        found = schema.change(mutant.diff)
        assert apply(text, found) == mutant.text, (mutant.diff, found)
        assert found.start[0] == mutant.line


@pytest.mark.parametrize(
    ("before", "after", "original", "replacement"),
    [
        ("x = False\n", "x = True\n", "False", "True"),
        ("if x > 0:\n", "if x >= 0:\n", ">", ">="),
        ("s = 'abc'\n", "s = 'XXabcXX'\n", "abc", "XXabcXX"),
        ("f(a, b)\n", "f(a, None)\n", "b", "None"),
    ],
)
def test_a_change_covers_whole_words_and_operators(before, after, original, replacement):
    diff = f"--- a/m.py\n+++ b/m.py\n@@ -1 +1 @@\n-{before}+{after}"
    found = schema.change(diff)
    (line, start), (end_line, end) = found.start, found.end
    assert (line, end_line) == (1, 1)
    assert before[start - 1 : end - 1] == original and found.replacement == replacement


def test_statuses_map_to_the_schemas_and_equivalents_keep_their_rationale():
    diff = "--- a/m.py\n+++ b/m.py\n@@ -1 +1 @@\n-x = 1\n+x = 2\n"
    base = {"file": "m.py", "line": 1, "operator": "constant", "function": None, "diff": diff}
    mutants = [
        {
            **base,
            "id": str(n),
            "status": status,
            "tests": [] if status == "no_tests" else ["t.py::t"],
            "rationale": "why" if status == "equivalent" else None,
        }
        for n, status in enumerate(record.STATUSES)
    ]
    doc = record.document("m", ["m.py"], mutants)
    results = schema.report(doc)["files"]["m.py"]["mutants"]
    assert [r["status"] for r in results] == ["Killed", "Survived", "Timeout", "NoCoverage", "Ignored"]
    assert [r.get("statusReason") for r in results] == [None, None, None, None, "why"]
    assert results[3]["coveredBy"] == []


def spec_with(*targets, overall=None):
    from types import SimpleNamespace

    return SimpleNamespace(targets=targets, steps=(), overall=overall)


def test_thresholds_come_from_the_specs_mutation_targets():
    files = (Target("a/*.py", mutation=90.5), Target("b.py", percent=80))
    spec = spec_with(*files, overall=Target("", mutation=85))
    assert schema.thresholds(spec) == schema.Thresholds(high=91, low=85)
    assert schema.thresholds(spec_with(Target("a.py", percent=90))) == schema.DEFAULT_THRESHOLDS


def test_the_report_of_a_real_run_validates_against_the_published_schema():
    mutants = generate("pkg/m.py", SOURCE)
    statuses = list(record.STATUSES)
    entries = [
        record.entry(m, statuses[n % 5], () if n % 5 == 3 else ("t/test_m.py::test_a", "t/test_m.py::T::b"))
        for n, m in enumerate(mutants)
    ]
    doc = {**record.document("m", ["pkg/m.py", "pkg/__init__.py"], entries), "texts": {"pkg/m.py": SOURCE}}
    validate(schema.report(doc, schema.Thresholds(95, 90)))
    validate(mutation_format.encode(doc, schema.Thresholds(95, 90)))  # mutation.json itself, too


def test_module_6_7s_committed_record_validates_as_mutation_json_would_hold_it():
    path = Path(__file__).resolve().parents[3] / "reports/module-6.7/mutation.json"
    doc = record.from_disk(json.loads(path.read_text(encoding="utf-8")))
    data = mutation_format.encode(doc)
    ids = {t["id"] for entry in data["testFiles"].values() for t in entry["tests"]}
    mutants = [m for f in data["files"].values() for m in f["mutants"]]
    assert len(mutants) == len(doc["mutants"])
    # Every reference names a test of testFiles (more than the schema asks: strings). jsonschema takes
    # seconds over the 188,802 references, so the schema sees the first three of each mutant.
    assert all(set(m["coveredBy"]) <= ids for m in mutants)
    for m in mutants:
        m["coveredBy"] = m["coveredBy"][:3]
    validate(data)
