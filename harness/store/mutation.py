"""mutation.json and the verdict cache: the record's shape and scores, and its one reader and writer.

The document (`document`) lists every mutant with its status and the tests that ran its lines, and per
file the counts by status and the score. On disk it is the mutation-testing-report-schema's document
(`mutation_format`); the reader also takes the format written before it. Verdicts reach the store as a
run reaches them (`Verdicts`): each is appended to a journal at once and folded into the cache when the
run ends, so a run killed outright loses only the mutants it was running.
"""

import hashlib
import json
from pathlib import Path

from harness.errors import DataError
from harness.spec.project import Project
from harness.store import disk, layout, mutation_format, trace
from harness.store.mutation_schema import Thresholds

STATUSES = ("killed", "survived", "timeout", "no_tests", "equivalent")
COUNTS = ("mutants", *STATUSES)
JUDGED = ("killed", "survived", "timeout")  # verdicts a later run may take from the cache


def entry(
    mutant, status: str, tests: tuple[str, ...], rationale: str | None = None, killed_by: str | None = None
) -> dict:
    """One mutant as mutation.json lists it; `killed_by`, the test whose failure killed it, when known."""
    found = {
        "id": mutant.id,
        "file": mutant.file,
        "line": mutant.line,
        "operator": mutant.operator,
        "function": mutant.function,
        "diff": mutant.diff,
        "status": status,
        "tests": sorted(tests),  # the run order depends on measured durations; the record must not
        "rationale": rationale,
    }
    if killed_by is not None:  # a verdict of the runs before killers were recorded does not know it
        found["killed_by"] = [killed_by]
    return found


def score(counts: dict) -> float | None:
    """(killed + timeout) / (mutants - equivalent) in percent; None when no mutant counts."""
    counted = counts["mutants"] - counts["equivalent"]
    return 100.0 * (counts["killed"] + counts["timeout"]) / counted if counted else None


def summarize(files: list[str], mutants: list[dict]) -> dict[str, dict]:
    """Per file (every file in `files`, in order): counts by status and the score."""
    table = {f: dict.fromkeys(COUNTS, 0) for f in files}
    for m in mutants:
        counts = table.setdefault(m["file"], dict.fromkeys(COUNTS, 0))
        counts["mutants"] += 1
        counts[m["status"]] += 1
    return {f: {**counts, "score": score(counts)} for f, counts in table.items()}


def total(files: dict[str, dict]) -> dict:
    """Counts and score over every file."""
    counts = {key: sum(f[key] for f in files.values()) for key in COUNTS}
    return {**counts, "score": score(counts)}


def document(module: str, files: list[str], mutants: list[dict], **meta) -> dict:
    """The whole mutation.json: metadata, per-file summary, then the mutants file by file."""
    order = {f: i for i, f in enumerate(files)}
    mutants = sorted(mutants, key=lambda m: order.get(m["file"], len(order)))
    return {"module": module, **meta, "files": summarize(files, mutants), "mutants": mutants}


def merge(previous: dict | None, files: list[str], mutants: list[dict]) -> tuple[list[str], list[dict]]:
    """Files and mutants of a run that mutated only `files`, keeping the other files' stored entries."""
    if not previous:
        return files, mutants
    kept_files = [f for f in previous.get("files", {}) if f not in files]
    kept = [m for m in previous.get("mutants", []) if m["file"] in kept_files]
    return sorted([*kept_files, *files]), [*kept, *mutants]


def mark_equivalent(doc: dict, marks: dict[str, str]) -> dict:
    """`doc` with the marked mutants set to equivalent (with their rationale) and the scores redone."""
    mutants = [
        {**m, "status": "equivalent", "rationale": marks[m["id"]]} if m["id"] in marks else m
        for m in doc["mutants"]
    ]
    return {**doc, "files": summarize(list(doc["files"]), mutants), "mutants": mutants}


def digest(text: str) -> str:
    """The content hash mutation.json keeps per file (`sources`) and the cache keys use."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def stale(doc: dict, texts: dict[str, str]) -> list[str]:
    """The files whose current text (`texts`) is not the one their stored mutants were made from."""
    recorded = doc.get("sources", {})
    return [f for f in doc.get("files", {}) if f in texts and recorded.get(f) != digest(texts[f])]


def with_texts(doc: dict, candidates: dict[str, str]) -> dict:
    """`doc` with those of `candidates` (file -> text) that are the texts its mutants were made from (by
    `sources` digest): a record written before texts were kept gets its sources back from unchanged files."""
    known = dict(doc.get("texts") or {})
    for path, text in candidates.items():
        recorded = doc.get("sources", {}).get(path)
        if path in doc["files"] and path not in known and recorded == digest(text):
            known[path] = text
    return {**doc, "texts": known} if known else doc


# The file: read and written here only.


def _read(path, what: str) -> dict | None:
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise DataError(f"{path}: not a readable {what} ({err}); remove it and run again") from err


def _decoded(path, data: object) -> dict:
    try:
        return mutation_format.decode(data)
    except DataError as err:
        raise DataError(f"{path}: {err}") from err


def from_disk(data: object, path: Path | None = None) -> dict:
    """The record a stored mutation.json holds (JSON, either format), its counts and scores derived;
    an unreadable one is a DataError that names `path`."""
    doc = _decoded(path, data) if path else mutation_format.decode(data)
    return {**doc, "files": summarize(doc["files"], doc["mutants"])}


def to_disk(doc: dict, limits: Thresholds) -> str:
    """mutation.json's text for the record `doc`; `limits` are the spec's (`mutation_schema.thresholds`)."""
    return mutation_format.dumps(mutation_format.encode(doc, limits))


def load(at: layout.ModuleFiles) -> dict | None:
    """The module's mutation.json, or None when it has none."""
    data = _read(at.mutation, "mutation result")
    if data is None:
        return None
    return from_disk(data, at.mutation)


def stored_files(at: layout.ModuleFiles) -> list[str]:
    """Which of the module's mutation files (`layout.MUTATION_ARTIFACTS`) are stored."""
    return [name for name in layout.MUTATION_ARTIFACTS if (at.module_dir / name).is_file()]


def load_required(at: layout.ModuleFiles) -> dict:
    doc = load(at)
    if doc is None:
        module = at.module_id
        raise DataError(f"{module} has no mutation result; run `harness mutate {module}` first")
    return doc


def save(at: layout.ModuleFiles, doc: dict, limits: Thresholds) -> None:
    """Write mutation.json (the caller holds the project lock)."""
    disk.atomic_write(at.mutation, to_disk(doc, limits))


def fresh(project: Project, module_id: str) -> dict | None:
    """The module's mutation.json without the files whose source changed since it was made (None if none)."""
    doc = load(layout.files(project, module_id))
    if doc is None:
        return None
    texts = current_texts(project, doc.get("files", {}))
    gone = set(stale(doc, {path: texts.get(path, "") for path in doc.get("files", {})}))
    files = {p: counts for p, counts in doc.get("files", {}).items() if p not in gone}
    return {**doc, "files": files, "mutants": [m for m in doc.get("mutants", []) if m["file"] in files]}


def current_texts(project: Project, paths) -> dict[str, str]:
    """The project's files as they are now (those that can be read)."""
    texts = {}
    for path in paths:
        try:
            texts[path] = (project.root / path).read_bytes().decode("utf-8")
        except (OSError, UnicodeDecodeError):
            continue  # a file that is gone or unreadable has no current text
    return texts


def recover_texts(project: Project, doc: dict) -> dict:
    """`doc` with the texts of its files that are unchanged since (what a record written before texts
    were kept lacks)."""
    missing = [f for f in doc["files"] if f not in (doc.get("texts") or {})]
    return with_texts(doc, current_texts(project, missing)) if missing else doc


def load_shard(path) -> dict:
    """A stored shard: the record of the mutants it ran, `files` the list of the files it mutated."""
    data = _read(path, "mutation shard")
    if data is None:
        raise DataError(f"{path}: no mutation shard")
    return _decoded(path, data)


def save_shard(at: layout.ModuleFiles, index: int, count: int, data: dict, limits: Thresholds) -> None:
    disk.atomic_write(at.mutation_shard(index, count), to_disk(data, limits))


def shard_files(at: layout.ModuleFiles) -> list[tuple[tuple[int, int], object]]:
    """Each stored mutation shard's (index, count) and its file."""
    folder = at.mutation_shards
    found = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else ():
        split = layout.split_of(path.name)
        if split:
            found.append((split, path))
    return found


class Verdicts:
    """The verdict cache: mutant id -> {"key": what the verdict depends on, "status", and "killed_by" when
    a test's failure killed it}. `add` appends one
    verdict to the journal at once; `fold` moves the journal into the cache file (at the end of a run,
    and before a run reads the cache)."""

    def __init__(self, project: Project, module_id: str):
        self.project, self.at = project, layout.files(project, module_id)

    def cached(self) -> dict[str, dict]:
        """Every verdict stored so far: the cache file, then the journal's lines (later lines win)."""
        cache = (_read(self.at.mutation_cache, "mutation cache") or {}).get("mutants", {})
        return {**cache, **self._journal()}

    def add(self, mutant_id: str, key: str, status: str, killed_by: str | None = None) -> None:
        verdict = {"id": mutant_id, "key": key, "status": status}
        line = json.dumps({**verdict, "killed_by": killed_by} if killed_by else verdict)
        with disk.locked(self.project):
            disk.append_line(self.at.mutation_journal, line)

    def fold(self) -> None:
        with disk.locked(self.project):
            journal = self._journal()
            if not journal:
                return
            disk.write_json(self.at.mutation_cache, {"mutants": self.cached()}, indent=None)
            self.at.mutation_journal.unlink(missing_ok=True)

    def _journal(self) -> dict[str, dict]:
        path = self.at.mutation_journal
        if not path.is_file():
            return {}
        found = {}
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                data = json.loads(line)
                found[data["id"]] = {"key": data["key"], "status": data["status"]}
                if isinstance(data.get("killed_by"), str):
                    found[data["id"]]["killed_by"] = data["killed_by"]
            except (ValueError, KeyError, TypeError):
                continue  # a line cut short by a kill: that verdict is run again
        return found


def equivalent_marks(project: Project, module_id: str) -> dict[str, str]:
    """Mutant id -> rationale, from the module's `mutant_equivalent` events (the latest mark wins)."""
    marks = {}
    for event in trace.of_module(trace.read(project), trace.MutantEquivalent, module_id):
        marks[str(event.mutant)] = str(event.rationale)
    return marks
