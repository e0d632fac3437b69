"""A harness mutation record as the ecosystem's mutation-testing-report-schema (version 2) has it. Pure data.

The schema (stryker-mutator's `mutation-testing-report-schema`, which `mutation-testing-elements` and the
Stryker dashboard read) wants per file its source and its mutants with a location, a replacement and a
status, and the tests once under `testFiles`, referred to by id. The harness's own record has the line and
a unified diff of each mutant; the location and replacement are read off that diff.
"""

import math
from dataclasses import dataclass

from harness import __version__

SCHEMA_VERSION = "2"
LANGUAGE = "python"
FRAMEWORK = {"name": "harness", "version": __version__}
# The harness's statuses and the schema's: an equivalent mutant is one a person set aside (`Ignored`,
# with the rationale as its `statusReason`), a mutant no test runs is `NoCoverage`.
STATUS = {
    "killed": "Killed",
    "survived": "Survived",
    "timeout": "Timeout",
    "no_tests": "NoCoverage",
    "equivalent": "Ignored",
}
HARNESS_STATUS = {standard: ours for ours, standard in STATUS.items()}


@dataclass(frozen=True)
class Thresholds:
    """The schema's colour bands: a score at `high` or above is good, below `low` is bad."""

    high: int
    low: int

    def as_dict(self) -> dict:
        return {"high": self.high, "low": self.low}


DEFAULT_THRESHOLDS = Thresholds(80, 60)  # Stryker's own defaults, for a module without mutation targets


def thresholds(spec) -> Thresholds:
    """From the spec's `mutation:` targets (files, steps, overall): the highest rounded up is `high`, the
    lowest rounded down is `low`, so a score under every target is never shown as good."""
    rules = [*spec.targets, *(t for step in spec.steps for t in step.targets)]
    if spec.overall is not None:
        rules.append(spec.overall)
    figures = [r.mutation for r in rules if getattr(r, "mutation", None) is not None]
    if not figures:
        return DEFAULT_THRESHOLDS
    return Thresholds(min(100, math.ceil(max(figures))), max(0, math.floor(min(figures))))


@dataclass(frozen=True)
class Change:
    """Where a mutant changes its file (1-based line and column, end exclusive) and what it puts there.

    Columns count UTF-16 code units, as the schema's readers (JavaScript) index strings.
    """

    start: tuple[int, int]
    end: tuple[int, int]
    replacement: str

    def location(self) -> dict:
        (line, column), (end_line, end_column) = self.start, self.end
        return {"start": {"line": line, "column": column}, "end": {"line": end_line, "column": end_column}}


def change(diff: str) -> Change:
    """The change a harness mutant's unified diff makes, widened to whole words and whole operators
    (`False` -> `True`, not `Fals` -> `Tru`). A diff of several hunks gives its first hunk's change."""
    first_line, old, new = _hunk(diff)
    start = _common_prefix(old, new)
    shared_tail = _common_suffix(old, new, start)
    while start > 0 and (_joined(old, start) or _joined(new, start)):
        start -= 1
    while shared_tail > 0 and (_joined(old, len(old) - shared_tail) or _joined(new, len(new) - shared_tail)):
        shared_tail -= 1
    return Change(
        _position(old, start, first_line),
        _position(old, len(old) - shared_tail, first_line),
        new[start : len(new) - shared_tail],
    )


def _hunk(diff: str) -> tuple[int, str, str]:
    """The first hunk's first old line number, and its old and new text (context included)."""
    lines = diff.split("\n")
    at = next((n for n, line in enumerate(lines) if line.startswith("@@")), None)
    if at is None:
        raise ValueError("no hunk in the diff")
    first = int(lines[at].split()[1].split(",")[0].lstrip("-"))
    old: list[str] = []
    new: list[str] = []
    last: list[list[str]] = []
    for line in lines[at + 1 :]:
        if line.startswith("@@"):
            break
        if line.startswith("\\"):  # "\ No newline at end of file": the line before has no newline
            for side in last:
                side[-1] = side[-1][:-1]
            continue
        if not line:
            continue
        sides = {" ": [old, new], "-": [old], "+": [new]}.get(line[0], [])
        for side in sides:
            side.append(line[1:] + "\n")
        last = sides
    return max(first, 1), "".join(old), "".join(new)


def _common_prefix(a: str, b: str) -> int:
    # A binary search of slice comparisons: each one runs in C, a loop over characters would not.
    low, high = 0, min(len(a), len(b))
    while low < high:
        middle = (low + high + 1) // 2
        low, high = (middle, high) if a[:middle] == b[:middle] else (low, middle - 1)
    return low


def _common_suffix(a: str, b: str, prefix: int) -> int:
    low, high = 0, min(len(a), len(b)) - prefix
    while low < high:
        middle = (low + high + 1) // 2
        low, high = (middle, high) if a[len(a) - middle :] == b[len(b) - middle :] else (low, middle - 1)
    return low


def _kind(char: str) -> str | None:
    if char.isalnum() or char == "_":
        return "word"
    return "operator" if char in "<>=!+-*/%&|^~@" else None


def _joined(text: str, at: int) -> bool:
    """Whether `at` falls inside a word or an operator of `text` (so a change must not start or end there)."""
    return 0 < at < len(text) and _kind(text[at - 1]) is not None and _kind(text[at - 1]) == _kind(text[at])


def _position(text: str, offset: int, first_line: int) -> tuple[int, int]:
    line_start = text.rfind("\n", 0, offset) + 1
    column = len(text[line_start:offset].encode("utf-16-le")) // 2 + 1
    return first_line + text.count("\n", 0, offset), column


def split_test(node_id: str) -> tuple[str, str]:
    """A pytest node id as the schema's test file (its path) and test name (the rest)."""
    path, sep, name = node_id.partition("::")
    return (path, name) if sep else ("", node_id)


def join_test(path: str, name: str) -> str:
    return f"{path}::{name}" if path else name


def test_files(node_ids) -> tuple[dict, dict[str, str]]:
    """`testFiles` naming every test once (ids "0", "1", ... in node id order) and each node id's id."""
    ids = {node: str(n) for n, node in enumerate(sorted(set(node_ids)))}
    files: dict[str, dict] = {}
    for node, test_id in ids.items():
        path, name = split_test(node)
        files.setdefault(path, {"tests": []})["tests"].append({"id": test_id, "name": name})
    return files, ids


def mutant_result(mutant: dict, test_ids: dict[str, str]) -> dict:
    """One harness mutant as the schema's MutantResult."""
    found = change(mutant["diff"])
    result = {
        "id": mutant["id"],
        "mutatorName": mutant["operator"],
        "replacement": found.replacement,
        "location": found.location(),
        "status": STATUS[mutant["status"]],
    }
    if mutant.get("rationale") is not None:
        result["statusReason"] = mutant["rationale"]
    result["coveredBy"] = [test_ids[t] for t in mutant["tests"]]
    if mutant.get("killed_by") is not None:
        result["killedBy"] = [test_ids[t] for t in mutant["killed_by"]]
    return result


def all_tests(doc: dict) -> list[str]:
    return [t for m in doc["mutants"] for t in (*m["tests"], *(m.get("killed_by") or ()))]


def report(doc: dict, limits: Thresholds = DEFAULT_THRESHOLDS) -> dict:
    """The standard document alone (no harness fields): what the HTML report and other tools read.

    `doc["texts"]` holds the text each file's mutants were made from; a file without one has an empty
    `source` (the schema requires the key).
    """
    tests, test_ids = test_files(all_tests(doc))
    texts = doc.get("texts") or {}
    files: dict[str, dict] = {
        path: {"language": LANGUAGE, "source": texts.get(path, ""), "mutants": []} for path in doc["files"]
    }
    for mutant in doc["mutants"]:
        entry = files.setdefault(mutant["file"], {"language": LANGUAGE, "source": "", "mutants": []})
        entry["mutants"].append(mutant_result(mutant, test_ids))
    return {
        "schemaVersion": SCHEMA_VERSION,
        "thresholds": limits.as_dict(),
        "framework": dict(FRAMEWORK),
        "files": files,
        "testFiles": tests,
    }
