"""What the commands do: run a module, combine shards, re-render, accept; the CLI only calls these."""

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from harness import measure, render, results, store, targets
from harness.catalog import all_specs, check_spec, find_spec
from harness.errors import DataError, SpecError, UsageError
from harness.junit import read_junit
from harness.project import Project
from harness.runner import RunOptions, run_session
from harness.spec import ModuleSpec

Echo = Callable[[str], None]


def git_commit(root: Path) -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def latest_acceptance(project: Project, module_id: str) -> dict | None:
    """The newest `variance_accepted` event for the module in trace.yml."""
    found = None
    for event in store.read_trace(project.trace_path):
        if isinstance(event, dict) and event.get("event") == "variance_accepted" and event.get("module") == module_id:
            found = event
    if not found:
        return None
    return {"rationale": found.get("rationale", ""), "accepted_at": found.get("at"),
            "accepted": list(found.get("accepted", []))}


def prepare(project: Project, spec: ModuleSpec, step: int | None, rebaseline: bool, echo: Echo) -> dict:
    """Every check and lookup that must pass before a test runs."""
    files = check_spec(project, spec)
    if step is not None and not 1 <= step <= len(spec.steps):
        raise UsageError(f"{spec.id} has {len(spec.steps)} step(s); --step {step} does not exist")
    carried = _carried_items(project, spec, files) if step is None else []
    return {"files": files, "carried": carried, "acceptance": latest_acceptance(project, spec.id),
            "baseline": _baseline(project, spec, rebaseline, echo)}


def _carried_items(project: Project, spec: ModuleSpec, files: list[str]) -> list[dict]:
    if not spec.carry_forward_from:
        return []
    source = results.load_module(project, spec.carry_forward_from, "carry_forward.from")
    items = source.get("carry_forward", [])
    for item in items:
        if item["file"] != "overall" and item["file"] not in files:
            raise SpecError(f"{spec.path}: carry_forward.from: item '{item['file']}' of "
                            f"{spec.carry_forward_from} is not under this module's source")
    return items


def _baseline(project: Project, spec: ModuleSpec, rebaseline: bool, echo: Echo) -> dict | None:
    if not spec.baseline:
        return None
    if spec.baseline.module:
        stored = results.load_module(project, spec.baseline.module, "it is this module's baseline")
        return results.baseline_from_result(stored, spec.baseline.module)
    cache = project.module_dir(spec.id) / "baseline.json"
    suites = [s.path for s in spec.baseline.suites]
    if cache.is_file() and not rebaseline:
        cached = json.loads(cache.read_text(encoding="utf-8"))
        if cached.get("suites") == suites:
            return cached
    echo(f"Measuring the baseline of {spec.id} from {len(suites)} suite(s)")
    baseline = _measure_baseline(project, spec, echo)
    store.atomic_write(cache, json.dumps(baseline, indent=2) + "\n")
    return baseline


def _measure_baseline(project: Project, spec: ModuleSpec, echo: Echo) -> dict:
    work = _workdir(project, spec.id)
    try:
        session = run_session(project.root, spec.baseline.suites, spec.source, work, RunOptions(), echo)
        if not session.data_file.is_file():
            raise DataError(f"{spec.path}: baseline.suites: the baseline run recorded no coverage (see {session.log_file})")
        report = measure.write_reports(project.root, session.data_file, work / "out")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {"module": None, "suites": [s.path for s in spec.baseline.suites], "measured_at": store.now(),
            "files": {p: f["percent"] for p, f in measure.file_figures(report).items()},
            "overall": measure.totals(report)["percent"]}


def _workdir(project: Project, module_id: str) -> Path:
    parent = project.module_dir(module_id) / ".work"
    parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix="run-", dir=parent))


def _event(project: Project, spec: ModuleSpec, event: str, **fields) -> dict:
    return {"at": store.now(), "event": event, "module": spec.id, "commit": git_commit(project.root), **fields}


def run_module(project: Project, spec: ModuleSpec, options: RunOptions, echo: Echo,
               step: int | None = None, rebaseline: bool = False) -> dict | None:
    """Run the module (or one step, or one shard); returns the result, or None for a shard."""
    context = prepare(project, spec, step, rebaseline, echo)
    suites = spec.steps[step - 1].suites if step else spec.all_suites()
    if not suites:
        raise UsageError(f"{spec.id} step {step} has no suites")
    label = f"{spec.id}{f' step {step}' if step else ''}{_shard_label(options)}"
    store.append_events(project.trace_path, project.lock_path,
                        [_event(project, spec, "run_started", step=step, shard=_shard_text(options))])
    echo(f"Running {label}: {len(suites)} suite path(s), measuring {', '.join(spec.source)}")
    started = store.now()
    work = _shard_dir(project, spec.id, options) if options.shard else _workdir(project, spec.id)
    session = run_session(project.root, suites, spec.source, work, options, echo)
    if options.shard:
        return _finish_shard(project, spec, session, started, options, echo)
    try:
        parts = {**context, "step": step, "started_at": started, "options": _options(options),
                 "exit_codes": session.exit_codes, "junit": session.junit_files}
        return publish(project, spec, session.data_file, work, parts, echo)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _shard_label(options: RunOptions) -> str:
    return f" shard {_shard_text(options)}" if options.shard else ""


def _shard_text(options: RunOptions) -> str | None:
    return f"{options.shard[0]}/{options.shard[1]}" if options.shard else None


def _options(options: RunOptions) -> dict:
    return {"workers": options.workers, "pytest_args": list(options.pytest_args)}


def publish(project: Project, spec: ModuleSpec, data_file: Path, work: Path, parts: dict, echo: Echo) -> dict:
    """Turn a finished session into the result and write every output, atomically, file by file."""
    tests = read_junit(tuple(parts["junit"]))
    report, coverage_error = None, None
    if data_file.is_file():
        try:
            report = measure.write_reports(project.root, data_file, work / "out")
        except DataError as err:
            coverage_error = str(err)
    failure = targets.failure_reason(tuple(parts["exit_codes"]), tests["totals"].counts(), report is not None)
    if failure and coverage_error and "recorded no data" in failure:
        failure = f"{failure} ({coverage_error})"
    out_dir = results.result_dir(project, spec.id, parts.get("step"))
    spec_link = Path(os.path.relpath(spec.path, out_dir)).as_posix()
    result = results.assemble(spec, {
        **parts, "finished_at": store.now(), "commit": git_commit(project.root), "tests": tests,
        "report": report, "failure": failure, "spec_link": spec_link,
    })
    _write_outputs(project, out_dir, work, result, tests_junit=parts["junit"])
    store.append_events(project.trace_path, project.lock_path, [_finished_event(project, spec, result)])
    if not parts.get("step"):
        refresh_map(project)
    echo(render.terminal_table(result))
    echo(f"Report: {project.relative(out_dir / 'COMPLETION_STATUS.md')}")
    return result


def _write_outputs(project: Project, out_dir: Path, work: Path, result: dict, tests_junit) -> None:
    """Coverage artifacts first, then the report, then results.json, each replaced whole."""
    out_dir.mkdir(parents=True, exist_ok=True)
    produced = work / "out"
    for name in ("coverage.json", "coverage.xml"):
        if (produced / name).is_file():
            store.atomic_write(out_dir / name, (produced / name).read_bytes())
    if (produced / "htmlcov").is_dir():
        store.replace_dir(produced / "htmlcov", out_dir / "htmlcov")
    junits = [p for p in tests_junit if Path(p).is_file()]
    if junits:
        store.atomic_write(out_dir / "junit.xml", _merge_junit(junits))
    with store.project_lock(project.lock_path):
        store.atomic_write(out_dir / "COMPLETION_STATUS.md", render.completion_status(result))
        store.atomic_write(out_dir / "results.json", results.dumps(result))


def _merge_junit(paths: list[Path]) -> bytes:
    """One JUnit file holding every invocation's test suites."""
    import xml.etree.ElementTree as ET

    merged = ET.Element("testsuites")
    for path in paths:
        root = ET.parse(path).getroot()
        merged.extend(root.iter("testsuite") if root.tag == "testsuites" else [root])
    return ET.tostring(merged, encoding="utf-8", xml_declaration=True)


def _finished_event(project: Project, spec: ModuleSpec, result: dict) -> dict:
    return _event(project, spec, "run_finished", step=(result["step"] or {}).get("number"),
                  status=result["status"], reason=result["reason"], tests=result["tests"],
                  overall=result["overall"]["percent"], unmet=result["unmet"],
                  files={p: f["percent"] for p, f in result["files"].items()})


def refresh_map(project: Project) -> None:
    specs = [s for s in all_specs(project) if isinstance(s, ModuleSpec)]
    store.update_map(project.map_path, project.lock_path,
                     lambda: render.map_block(results.map_rows(project, specs)))


def _shard_dir(project: Project, module_id: str, options: RunOptions) -> Path:
    index, count = options.shard
    path = project.module_dir(module_id) / ".work" / "shards" / f"{index}-of-{count}"
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def _finish_shard(project: Project, spec: ModuleSpec, session, started: str, options: RunOptions, echo: Echo) -> None:
    meta = {"started_at": started, "finished_at": store.now(), "exit_codes": list(session.exit_codes),
            "shard": list(options.shard), "options": _options(options)}
    shard_dir = session.data_file.parent
    store.atomic_write(shard_dir / "shard.json", json.dumps(meta, indent=2) + "\n")
    store.append_events(project.trace_path, project.lock_path,
                        [_event(project, spec, "shard_finished", shard=_shard_text(options),
                                exit_codes=list(session.exit_codes))])
    echo(f"Shard {_shard_text(options)} stored in {project.relative(shard_dir)}; run `harness combine {spec.id}` when all are done")
    return None


def combine_module(project: Project, spec: ModuleSpec, echo: Echo) -> dict:
    """Merge the module's shards into one result, as an unsharded run would have produced."""
    shard_dirs = _complete_shards(project, spec)
    context = prepare(project, spec, None, False, echo)
    metas = [json.loads((d / "shard.json").read_text(encoding="utf-8")) for d in shard_dirs]
    work = _workdir(project, spec.id)
    try:
        data = [d / ".coverage" for d in shard_dirs if (d / ".coverage").is_file()]
        if data:
            measure.combine(project.root, data, work / ".coverage")
        parts = {**context, "step": None, "started_at": min(m["started_at"] for m in metas),
                 "options": metas[0]["options"], "shards": len(shard_dirs),
                 "exit_codes": [c for m in metas for c in m["exit_codes"]],
                 "junit": sorted(p for d in shard_dirs for p in d.glob("junit-*.xml"))}
        echo(f"Combining {len(shard_dirs)} shards of {spec.id}")
        result = publish(project, spec, work / ".coverage", work, parts, echo)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    shutil.rmtree(shard_dirs[0].parent, ignore_errors=True)
    return result


def _complete_shards(project: Project, spec: ModuleSpec) -> list[Path]:
    root = project.module_dir(spec.id) / ".work" / "shards"
    dirs = sorted(d for d in root.glob("*-of-*") if (d / "shard.json").is_file()) if root.is_dir() else []
    if not dirs:
        raise DataError(f"{root}: no finished shards of {spec.id}; run `harness run {spec.id} --shard K/N` first")
    counts = {d.name.split("-of-")[1] for d in dirs}
    if len(counts) > 1:
        raise DataError(f"{root}: shards of different splits ({', '.join(sorted(counts))}); rerun them with one N")
    count = int(counts.pop())
    have = {int(d.name.split("-of-")[0]) for d in dirs}
    missing = sorted(set(range(1, count + 1)) - have)
    if missing:
        raise DataError(f"{spec.id}: shard(s) {', '.join(f'{k}/{count}' for k in missing)} not finished yet")
    return sorted(dirs, key=lambda d: int(d.name.split("-of-")[0]))


def rerender(project: Project, spec: ModuleSpec) -> dict:
    """Write the report and MAP.md again from the stored result."""
    out_dir = results.result_dir(project, spec.id)
    result = results.load(out_dir / "results.json")
    with store.project_lock(project.lock_path):
        store.atomic_write(out_dir / "COMPLETION_STATUS.md", render.completion_status(result))
    refresh_map(project)
    return result


def accept_module(project: Project, spec: ModuleSpec, rationale: str) -> dict:
    """Record the lead's decision; the unmet targets become carry-forward items."""
    if not rationale.strip():
        raise UsageError("--rationale must say why the variance is accepted")
    out_dir = results.result_dir(project, spec.id)
    result = results.load(out_dir / "results.json")
    if result["status"] == "failed":
        raise UsageError(f"{spec.id}: cannot accept a Failed result ({result['reason']}); fix the tests first")
    if not result["unmet"]:
        raise UsageError(f"{spec.id}: every target is met; there is no variance to accept")
    items = targets.carry_forward_items(result["files"], result["overall"], spec.id)
    accepted = _event(project, spec, "variance_accepted", rationale=rationale.strip(),
                      accepted=list(result["unmet"]), overall=result["overall"]["percent"])
    carried = _event(project, spec, "carry_forward_created",
                     items=[{k: i[k] for k in ("file", "percent", "target", "missing")} for i in items])
    store.append_events(project.trace_path, project.lock_path, [accepted, carried])
    result = {**result, "status": "complete_with_variance",
              "status_label": targets.STATUS_LABELS["complete_with_variance"],
              "acceptance": {"rationale": accepted["rationale"], "accepted_at": accepted["at"],
                             "accepted": accepted["accepted"]},
              "carry_forward": items}
    with store.project_lock(project.lock_path):
        store.atomic_write(out_dir / "COMPLETION_STATUS.md", render.completion_status(result))
        store.atomic_write(out_dir / "results.json", results.dumps(result))
    refresh_map(project)
    return result


def load_any(project: Project, ref: str, cwd: Path | None = None) -> dict:
    """A stored result named by a results.json path, a spec path or a module id."""
    path = (cwd or Path.cwd()) / ref
    if ref.endswith(".json"):
        return results.load(path)
    spec = find_spec(project, ref, cwd)
    return results.load_module(project, spec.id)
