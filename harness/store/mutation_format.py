"""mutation.json on disk: the mutation-testing-report-schema document with the harness's own fields. Pure.

In memory a record stays the harness's own shape (harness/store/mutation.py: `module`, times, `commit`,
`sources`, `files` with counts and scores, `mutants` each naming its tests), plus, when known, `texts`:
the text each file's mutants were made from. On disk (`encode`) it is the schema's document, valid as it
is, where each test is named once under `testFiles` and mutants refer to it by id; what the schema has no
place for rides along where it allows other properties: the record's metadata and `sources` digests at
the top, each mutant's `line`, `function` and `diff`. `decode` gives the record back, from this format or
from the one written before it (a plain dict with a `mutants` list, each naming its tests), with `files`
as the list of its files: the counts are derived, and `store.mutation` derives them.
"""

import json

from harness.errors import DataError
from harness.store import mutation_schema as schema

# Top-level keys the schema defines; every other top-level key of the file is the harness's metadata.
SCHEMA_KEYS = (
    "schemaVersion",
    "thresholds",
    "framework",
    "config",
    "projectRoot",
    "performance",
    "system",
    "files",
    "testFiles",
)
# Keys of the in-memory record that are not metadata.
BODY_KEYS = ("files", "mutants", "texts")
# Containers written one element a line; everything below them is written on the element's line.
_EXPANDED = {
    (),
    ("files",),
    ("files", "*"),
    ("files", "*", "mutants"),
    ("testFiles",),
    ("testFiles", "*"),
    ("testFiles", "*", "tests"),
}


def encode(doc: dict, limits: schema.Thresholds = schema.DEFAULT_THRESHOLDS) -> dict:
    """The record as the file holds it. `limits` are the spec's thresholds (`mutation_schema.thresholds`)."""
    meta = {key: value for key, value in doc.items() if key not in BODY_KEYS}
    clash = sorted(set(meta) & set(SCHEMA_KEYS))
    if clash:
        raise ValueError(f"mutation record metadata uses the schema's key {clash[0]!r}")
    tests, test_ids = schema.test_files(schema.all_tests(doc))
    texts = doc.get("texts") or {}
    files = {path: _file(path, texts) for path in doc["files"]}
    for mutant in doc["mutants"]:
        entry = files.setdefault(mutant["file"], _file(mutant["file"], texts))
        extra = {"line": mutant["line"], "function": mutant["function"], "diff": mutant["diff"]}
        entry["mutants"].append({**schema.mutant_result(mutant, test_ids), **extra})
    return {
        "schemaVersion": schema.SCHEMA_VERSION,
        "thresholds": limits.as_dict(),
        "framework": dict(schema.FRAMEWORK),
        **meta,
        "files": files,
        "testFiles": tests,
    }


def _file(path: str, texts: dict[str, str]) -> dict:
    if path in texts:
        return {"language": schema.LANGUAGE, "source": texts[path], "mutants": []}
    # The schema requires a source; a record made before texts were kept has none to give.
    return {"language": schema.LANGUAGE, "source": "", "source_known": False, "mutants": []}


def decode(data: object) -> dict:
    """The record from a stored mutation.json or mutation shard (this format or the earlier one), its
    `files` the list of its files in order."""
    if not isinstance(data, dict):
        raise DataError("not a harness mutation record (expected a JSON object)")
    if "schemaVersion" not in data:
        return _earlier(data)
    if "module" not in data:
        raise DataError("a mutation-testing-report-schema document the harness did not write (no module)")
    try:
        return _decoded(data)
    except (KeyError, TypeError, AttributeError, ValueError) as err:
        raise DataError(f"not a readable harness mutation record ({type(err).__name__}: {err})") from err


def _decoded(data: dict) -> dict:
    names = {
        test["id"]: schema.join_test(path, test["name"])
        for path, entry in data.get("testFiles", {}).items()
        for test in entry["tests"]
    }
    mutants, texts = [], {}
    for path, entry in data["files"].items():
        if entry.get("source_known", True):
            texts[path] = entry["source"]
        mutants.extend(_mutant(path, m, names) for m in entry["mutants"])
    meta = {key: value for key, value in data.items() if key not in SCHEMA_KEYS}
    doc = {**meta, "files": list(data["files"]), "mutants": mutants}
    if texts:
        doc["texts"] = texts
    return doc


def _mutant(path: str, stored: dict, names: dict[str, str]) -> dict:
    mutant = {
        "id": stored["id"],
        "file": path,
        "line": stored["line"],
        "operator": stored["mutatorName"],
        "function": stored.get("function"),
        "diff": stored["diff"],
        "status": schema.HARNESS_STATUS[stored["status"]],
        "tests": [names[i] for i in stored.get("coveredBy", ())],
        "rationale": stored.get("statusReason"),
    }
    if "killedBy" in stored:
        mutant["killed_by"] = [names[i] for i in stored["killedBy"]]
    return mutant


def _earlier(data: dict) -> dict:
    """The format before this one was the in-memory shape itself (a shard's `files` already a list)."""
    if not isinstance(data.get("files"), dict | list) or not isinstance(data.get("mutants"), list):
        raise DataError("not a harness mutation record (no files and mutants)")
    return {**data, "files": list(data["files"])}


def dumps(data: dict) -> str:
    """The file's text: one mutant and one test a line, so a change to the record reads as a small diff."""
    return "".join(_lines(data, (), "")) + "\n"


def _lines(value, path: tuple[str, ...], indent: str):
    if not _expanded(path) or not value:
        yield json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        return
    inner = indent + " "
    if isinstance(value, dict):
        items = [(key, (*path, key)) for key in value]
        opening, closing = "{", "}"
    else:
        items = [(index, (*path, "*")) for index in range(len(value))]
        opening, closing = "[", "]"
    yield opening + "\n"
    for n, (key, child) in enumerate(items):
        yield inner
        if isinstance(value, dict):
            yield json.dumps(key, ensure_ascii=False) + ":"
        yield from _lines(value[key], child, inner)
        yield ",\n" if n < len(items) - 1 else "\n"
    yield indent + closing


def _expanded(path: tuple[str, ...]) -> bool:
    generic = tuple("*" if n == 1 else part for n, part in enumerate(path))
    return generic in _EXPANDED
