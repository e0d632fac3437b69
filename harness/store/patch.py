"""What `--changed` keeps between commands: the affected tests' coverage report and the patch mutants'
verdicts, each with the tree it was measured on, so that a later command on the same tree (`harness
mutate --changed` after `harness run --changed`, `harness check --changed` after both) builds patch.json
from them, and never from measurements of another tree."""

import json
from pathlib import Path

from harness.spec.project import Project
from harness.store import disk


def keep(project: Project, path: Path, tree: str, value) -> None:
    """Store `value` (plain JSON data) as measured on the tree whose fingerprint is `tree`."""
    with disk.locked(project):
        disk.write_json(path, {"tree": tree, "value": value}, indent=None)


def kept(path: Path, tree: str):
    """What `keep` stored at `path` if it was measured on the tree `tree`; else (or unreadable) None."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict) or doc.get("tree") != tree:
        return None
    return doc.get("value")


def drop(project: Project, path: Path) -> None:
    with disk.locked(project):
        disk.remove(path)
