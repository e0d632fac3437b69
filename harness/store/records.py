"""results.json and baseline.json: the stored result of a module (or step) and its cached baseline; every
module's stored result beside its spec (`harness list`)."""

import json
from pathlib import Path

from harness.errors import DataError, HarnessError
from harness.spec.catalog import all_specs, find_spec
from harness.spec.model import ModuleSpec
from harness.spec.preflight import check_spec
from harness.spec.project import Project
from harness.store import disk, layout

REQUIRED = ("module", "status", "finished_at", "tests", "overall", "files", "unmet")


def dumps(result: dict) -> str:
    return json.dumps(result, indent=2, sort_keys=False) + "\n"


def save(at: layout.ModuleFiles, result: dict) -> None:
    """results.json: the one place it is written (the caller holds the project lock)."""
    disk.atomic_write(at.result, dumps(result))


def load(path: Path) -> dict:
    """A stored results.json, checked for the keys the commands rely on."""
    data = disk.read_json(path, "result")
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


def load_if_any(at: layout.ModuleFiles) -> dict | None:
    """The stored result at `at`, or None when there is none or it cannot be read."""
    if not at.result.is_file():
        return None
    try:
        return load(at.result)
    except DataError:
        return None


def load_any(project: Project, ref: str, cwd: Path | None = None) -> dict:
    """A stored result named by a results.json path, a spec path or a module id."""
    if ref.endswith(".json"):
        return load((cwd or Path.cwd()) / ref)
    return load_module(project, find_spec(project, ref, cwd).id)


def spec_changed(result: dict, spec: ModuleSpec) -> bool:
    """Whether the spec was edited after the result was recorded (results without a digest: no)."""
    return result.get("spec_sha256") not in (None, spec.path.digest())


def baseline_from_result(result: dict, module_id: str) -> dict:
    """Another module's stored result as this module's baseline figures."""
    return {
        "module": module_id,
        "suites": None,
        "measured_at": result.get("finished_at"),
        "files": {p: f["percent"] for p, f in result["files"].items()},
        "overall": result.get("overall", {}).get("percent"),
    }


def load_baseline(at: layout.ModuleFiles) -> dict | None:
    """The cached baseline measured from the module's baseline suites, if there is one."""
    return disk.read_json_if_any(at.baseline, "baseline")


def save_baseline(project: Project, at: layout.ModuleFiles, baseline: dict | None, log: Path) -> None:
    """Keep the pytest output a baseline was measured from, and cache the baseline (None: it failed)."""
    with disk.locked(project):
        disk.copy_file(log, at.baseline_log)
        if baseline is not None:
            disk.write_json(at.baseline, baseline)


def survey(project: Project) -> tuple[list[tuple[str, str, dict | None, bool]], list[HarnessError]]:
    """`harness list`: each module's id, title, stored result and whether its spec is invalid, and
    apart the errors of the specs that do not load or do not pass the pre-flight checks."""
    rows, broken = [], []
    found = all_specs(project)
    broken += [f for f in found if not isinstance(f, ModuleSpec)]
    for spec in (f for f in found if isinstance(f, ModuleSpec)):
        try:
            check_spec(project, spec)
        except HarnessError as err:
            broken.append(err)
            rows.append((spec.id, spec.title, None, True))
            continue
        at = layout.files(project, spec.id)
        rows.append((spec.id, spec.title, load(at.result) if at.result.is_file() else None, False))
    return rows, broken
