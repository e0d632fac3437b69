"""mutation.json: mutant entries, per-file counts and scores, merging runs and shards. Plain data only."""

import hashlib

STATUSES = ("killed", "survived", "timeout", "no_tests", "equivalent")
COUNTS = ("mutants", *STATUSES)


def entry(
    mutant, status: str, tests: tuple[str, ...], rationale: str | None = None, killed_by: str | None = None
) -> dict:
    """One mutant as mutation.json lists it; `killed_by`, the test that failed, when this run killed it."""
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
    if killed_by is not None:  # a verdict from the cache does not know it
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


def in_shard(mutant_id: str, index: int, count: int) -> bool:
    """Shard `index` of `count` (1-based) takes the mutants whose id falls in its residue class."""
    return int(mutant_id, 16) % count == index - 1


def cache_key(mutant_id: str, file_digest: str, tests: tuple[str, ...], test_digests: dict[str, str]) -> str:
    """What a stored verdict depends on: the mutated file, the covering tests and their files' contents."""
    parts = [mutant_id, file_digest, *sorted(tests), *(f"{p}={d}" for p, d in sorted(test_digests.items()))]
    return hashlib.sha256("\0".join(parts).encode("utf-8")).hexdigest()
