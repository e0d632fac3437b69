"""What `harness mutate` keeps: mutation.json, the verdict cache, shard files and trace.yml events."""

import json
from pathlib import Path

from harness.errors import DataError
from harness.mutation import record
from harness.spec.project import Project
from harness.store import disk, layout, trace

EQUIVALENT_EVENT = "mutant_equivalent"


def result_path(project: Project, module_id: str) -> Path:
    return layout.files(project, module_id).mutation


def shard_dir(project: Project, module_id: str) -> Path:
    return layout.files(project, module_id).mutation_shards


def cache_path(project: Project, module_id: str) -> Path:
    return layout.files(project, module_id).mutation_cache


def read_json(path: Path, what: str) -> dict | None:
    """A stored JSON file, None when there is none; unreadable data is an error naming the file."""
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise DataError(f"{path}: not a readable {what} ({err}); remove it and run again") from err


def write_json(project: Project, path: Path, data: dict) -> None:
    with disk.project_lock(project.lock_path):
        disk.atomic_write(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def load_result(project: Project, module_id: str) -> dict:
    doc = read_json(result_path(project, module_id), "mutation result")
    if doc is None:
        raise DataError(f"{module_id} has no mutation result; run `harness mutate {module_id}` first")
    return doc


def fresh_result(project: Project, module_id: str) -> dict | None:
    """The module's mutation.json without the files whose source changed since it was made (None if none)."""
    doc = read_json(result_path(project, module_id), "mutation result")
    if doc is None:
        return None
    texts = {}
    for path in doc.get("files", {}):
        try:
            texts[path] = (project.root / path).read_text(encoding="utf-8")
        except OSError:
            texts[path] = ""  # a file that is gone has no current score
    gone = set(record.stale(doc, texts))
    files = {p: counts for p, counts in doc.get("files", {}).items() if p not in gone}
    return {**doc, "files": files, "mutants": [m for m in doc.get("mutants", []) if m["file"] in files]}


def update_cache(project: Project, module_id: str, entries: dict[str, dict]) -> None:
    """Add verdicts to the cache under the lock (shards on one machine may finish at once)."""
    path = cache_path(project, module_id)
    with disk.project_lock(project.lock_path):
        cached = (read_json(path, "mutation cache") or {}).get("mutants", {})
        disk.atomic_write(path, json.dumps({"mutants": {**cached, **entries}}) + "\n")


# The mutation events are built and appended by the harness's one event module.
git_commit = trace.git_commit
event = trace.event


def log_events(project: Project, evs: list[dict]) -> None:
    trace.record(project, *evs)


def equivalent_marks(project: Project, module_id: str) -> dict[str, str]:
    """Mutant id -> rationale, from the module's `mutant_equivalent` events (the latest mark wins)."""
    marks = {}
    for ev in disk.read_trace(project.trace_path):
        if isinstance(ev, dict) and ev.get("event") == EQUIVALENT_EVENT and ev.get("module") == module_id:
            marks[str(ev.get("mutant"))] = str(ev.get("rationale"))
    return marks
