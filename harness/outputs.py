"""Writing a result's outputs: coverage artifacts, report, results.json, trace events, the MAP.md block."""

import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

from harness import render, results, store
from harness.catalog import all_specs
from harness.project import Project
from harness.spec import ModuleSpec


def git_commit(root: Path) -> str | None:
    """HEAD's commit, or None outside a git checkout."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def event(project: Project, spec: ModuleSpec, event: str, **fields) -> dict:
    return {
        "at": store.now(),
        "event": event,
        "module": spec.id,
        "commit": git_commit(project.root),
        **fields,
    }


def write_outputs(project: Project, out_dir: Path, work: Path, result: dict, junit, logs) -> None:
    """Coverage artifacts first, then the report, then results.json, each replaced whole.

    All under the project lock, so two runs of one module cannot interleave their files.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    produced = work / "out"
    junits = [p for p in junit if Path(p).is_file()]
    log = b"".join(Path(p).read_bytes() for p in logs if Path(p).is_file())
    with store.project_lock(project.lock_path):
        for name in ("coverage.json", "coverage.xml"):
            if (produced / name).is_file():
                store.atomic_write(out_dir / name, (produced / name).read_bytes())
        if (produced / "htmlcov").is_dir():
            store.replace_dir(produced / "htmlcov", out_dir / "htmlcov")
        if junits:
            store.atomic_write(out_dir / "junit.xml", merge_junit(junits))
        store.atomic_write(out_dir / "pytest.log", log)
        store.atomic_write(out_dir / "COMPLETION_STATUS.md", render.completion_status(result))
        store.atomic_write(out_dir / "results.json", results.dumps(result))


def merge_junit(paths: list[Path]) -> bytes:
    """One JUnit file holding every invocation's test suites."""
    merged = ET.Element("testsuites")
    for path in paths:
        root = ET.parse(path).getroot()
        merged.extend(root.iter("testsuite") if root.tag == "testsuites" else [root])
    return ET.tostring(merged, encoding="utf-8", xml_declaration=True)


def finished_event(project: Project, spec: ModuleSpec, result: dict) -> dict:
    return event(
        project,
        spec,
        "run_finished",
        step=(result["step"] or {}).get("number"),
        status=result["status"],
        reason=result["reason"],
        tests=result["tests"],
        overall=result["overall"]["percent"],
        unmet=result["unmet"],
        files={p: f["percent"] for p, f in result["files"].items()},
    )


def refresh_map(project: Project) -> None:
    specs = [s for s in all_specs(project) if isinstance(s, ModuleSpec)]
    store.update_map(
        project.map_path, project.lock_path, lambda: render.map_block(results.map_rows(project, specs))
    )


def rerender(project: Project, spec: ModuleSpec) -> dict:
    """Write the report and MAP.md again from the stored result."""
    out_dir = results.result_dir(project, spec.id)
    result = results.load(out_dir / "results.json")
    with store.project_lock(project.lock_path):
        store.atomic_write(out_dir / "COMPLETION_STATUS.md", render.completion_status(result))
    refresh_map(project)
    return result
