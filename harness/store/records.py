"""Reading what the harness stored: results.json, baseline and shard records, never assembling anew."""

import json
from pathlib import Path

from harness.errors import DataError
from harness.spec.catalog import find_spec
from harness.spec.project import Project
from harness.store import layout

REQUIRED = ("module", "status", "finished_at", "tests", "overall", "files", "unmet")


def read_json(path: Path, what: str) -> dict:
    """A JSON object the harness stored, or a DataError saying which file is missing or broken."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise DataError(f"{path}: no stored {what}") from err
    except (OSError, ValueError) as err:
        raise DataError(f"{path}: unreadable {what}: {err}") from err
    if not isinstance(data, dict):
        raise DataError(f"{path}: not a harness {what}")
    return data


def load(path: Path) -> dict:
    """A stored results.json, checked for the keys the commands rely on."""
    data = read_json(path, "result")
    missing = [key for key in REQUIRED if key not in data]
    if missing:
        raise DataError(f"{path}: not a harness results.json (missing {', '.join(missing)})")
    return data


def load_module(project: Project, module_id: str, why: str = "") -> dict:
    """The module's last stored result; a DataError that says how to make one when there is none."""
    path = layout.files(project, module_id).result
    if not path.is_file():
        hint = f" ({why})" if why else ""
        raise DataError(
            f"{path}: module '{module_id}' has no stored result{hint}; run `harness run {module_id}` first"
        )
    return load(path)


def load_if_any(project: Project, module_id: str) -> dict | None:
    """The module's last stored result, or None when it has none or it cannot be read."""
    path = layout.files(project, module_id).result
    if not path.is_file():
        return None
    try:
        return load(path)
    except DataError:
        return None


def baseline_from_result(result: dict, module_id: str) -> dict:
    """Another module's stored result as this module's baseline figures."""
    return {
        "module": module_id,
        "suites": None,
        "measured_at": result.get("finished_at"),
        "files": {p: f["percent"] for p, f in result["files"].items()},
        "overall": result.get("overall", {}).get("percent"),
    }


def load_any(project: Project, ref: str, cwd: Path | None = None) -> dict:
    """A stored result named by a results.json path, a spec path or a module id."""
    if ref.endswith(".json"):
        return load((cwd or Path.cwd()) / ref)
    return load_module(project, find_spec(project, ref, cwd).id)
