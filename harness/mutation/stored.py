"""What `harness mutate` keeps: mutation.json, the verdict cache, shard files and trace.yml events."""

import json
import subprocess
from pathlib import Path

from harness import store
from harness.errors import DataError
from harness.project import Project

EQUIVALENT_EVENT = "mutant_equivalent"


def result_path(project: Project, module_id: str) -> Path:
    return project.module_dir(module_id) / "mutation.json"


def shard_dir(project: Project, module_id: str) -> Path:
    return project.module_dir(module_id) / ".work" / "mutation-shards"


def cache_path(project: Project, module_id: str) -> Path:
    return project.module_dir(module_id) / ".work" / "mutation-cache.json"


def read_json(path: Path, what: str) -> dict | None:
    """A stored JSON file, None when there is none; unreadable data is an error naming the file."""
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise DataError(f"{path}: not a readable {what} ({err}); remove it and run again") from err


def write_json(project: Project, path: Path, data: dict) -> None:
    with store.project_lock(project.lock_path):
        store.atomic_write(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def load_result(project: Project, module_id: str) -> dict:
    doc = read_json(result_path(project, module_id), "mutation result")
    if doc is None:
        raise DataError(f"{module_id} has no mutation result; run `harness mutate {module_id}` first")
    return doc


def update_cache(project: Project, module_id: str, entries: dict[str, dict]) -> None:
    """Add verdicts to the cache under the lock (shards on one machine may finish at once)."""
    path = cache_path(project, module_id)
    with store.project_lock(project.lock_path):
        cached = (read_json(path, "mutation cache") or {}).get("mutants", {})
        store.atomic_write(path, json.dumps({"mutants": {**cached, **entries}}) + "\n")


def git_commit(root: Path) -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return (out.stdout.strip() or None) if out.returncode == 0 else None


def event(project: Project, module_id: str, name: str, **fields) -> dict:
    return {
        "at": store.now(),
        "event": name,
        "module": module_id,
        "commit": git_commit(project.root),
        **fields,
    }


def log_events(project: Project, events: list[dict]) -> None:
    store.append_events(project.trace_path, project.lock_path, events)


def equivalent_marks(project: Project, module_id: str) -> dict[str, str]:
    """Mutant id -> rationale, from the module's `mutant_equivalent` events (the latest mark wins)."""
    marks = {}
    for ev in store.read_trace(project.trace_path):
        if isinstance(ev, dict) and ev.get("event") == EQUIVALENT_EVENT and ev.get("module") == module_id:
            marks[str(ev.get("mutant"))] = str(ev.get("rationale"))
    return marks
