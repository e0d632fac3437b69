"""What `run` and `combine` do: check, run the suites, turn the session into a result, publish it."""

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from harness import measure, render, results, store, targets
from harness.acceptance import latest_acceptance
from harness.catalog import check_spec, find_spec
from harness.errors import DataError, SpecError, UsageError
from harness.junit import read_junit
from harness.outputs import event, finished_event, git_commit, refresh_map, write_outputs
from harness.project import Project
from harness.runner import RunOptions, run_session
from harness.shards import complete_shards, finish_shard, options_dict, shard_dir, shard_label, shard_text
from harness.spec import ModuleSpec

Echo = Callable[[str], None]


def prepare(
    project: Project, spec: ModuleSpec, step: int | None, rebaseline: bool, echo: Echo, shard: bool = False
) -> dict:
    """Every check and lookup that must pass before a test runs (a shard needs only the checks)."""
    files = check_spec(project, spec)
    if step is not None and not 1 <= step <= len(spec.steps):
        raise UsageError(f"{spec.id} has {len(spec.steps)} step(s); --step {step} does not exist")
    if shard:
        return {}
    module_level = step is None  # a step run has its own targets: no carried items, no acceptance
    return {
        "carried": _carried_items(project, spec, files, echo) if module_level else [],
        "acceptance": latest_acceptance(project, spec.id) if module_level else None,
        "baseline": _baseline(project, spec, rebaseline, echo),
    }


def _carried_items(project: Project, spec: ModuleSpec, files: list[str], echo: Echo) -> list[dict]:
    if not spec.carry_forward_from:
        return []
    source = results.load_module(project, spec.carry_forward_from, "carry_forward.from")
    items = source.get("carry_forward", [])
    if not items:
        echo(
            f"Note: {spec.carry_forward_from} has no carry-forward items (it was not accepted with variance)"
        )
    for item in items:
        if item["file"] != "overall" and item["file"] not in files:
            raise SpecError(
                f"{spec.path}: carry_forward.from: item '{item['file']}' of "
                f"{spec.carry_forward_from} is not under this module's source"
            )
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
        cached = results.read_json(cache, "baseline")
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
            raise DataError(f"{spec.path}: baseline.suites: no coverage recorded (see {session.log_file})")
        report = measure.write_reports(project.root, session.data_file, work / "out")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {
        "module": None,
        "suites": [s.path for s in spec.baseline.suites],
        "measured_at": store.now(),
        "files": {p: f["percent"] for p, f in measure.file_figures(report).items()},
        "overall": measure.totals(report)["percent"],
    }


def _workdir(project: Project, module_id: str) -> Path:
    parent = project.module_dir(module_id) / ".work"
    parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix="run-", dir=parent))


def run_module(
    project: Project,
    spec: ModuleSpec,
    options: RunOptions,
    echo: Echo,
    step: int | None = None,
    rebaseline: bool = False,
) -> dict | None:
    """Run the module (or one step, or one shard); returns the result, or None for a shard."""
    context = prepare(project, spec, step, rebaseline, echo, shard=bool(options.shard))
    suites = spec.steps[step - 1].suites if step else spec.all_suites()
    if not suites:
        raise UsageError(f"{spec.id} step {step} has no suites")
    label = f"{spec.id}{f' step {step}' if step else ''}{shard_label(options)}"
    store.append_events(
        project.trace_path,
        project.lock_path,
        [event(project, spec, "run_started", step=step, shard=shard_text(options))],
    )
    echo(f"Running {label}: {len(suites)} suite path(s), measuring {', '.join(spec.source)}")
    started = store.now()
    work = shard_dir(project, spec.id, options) if options.shard else _workdir(project, spec.id)
    try:
        session = run_session(project.root, suites, spec.source, work, options, echo)
    except KeyboardInterrupt:
        # The log says the run ended without a result; earlier events, reports and MAP.md are untouched.
        interrupted = event(project, spec, "run_interrupted", step=step, shard=shard_text(options))
        store.append_events(project.trace_path, project.lock_path, [interrupted])
        if not options.shard:
            shutil.rmtree(work, ignore_errors=True)
        raise
    if options.shard:
        return finish_shard(project, spec, session, started, options, echo)
    try:
        parts = {
            **context,
            "step": step,
            "started_at": started,
            "options": options_dict(options),
            "exit_codes": session.exit_codes,
            "junit": session.junit_files,
            "logs": [session.log_file],
        }
        return publish(project, spec, session.data_file, work, parts, echo)
    finally:
        shutil.rmtree(work, ignore_errors=True)


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
    result = results.assemble(
        spec,
        {
            **parts,
            "finished_at": store.now(),
            "commit": git_commit(project.root),
            "tests": tests,
            "report": report,
            "failure": failure,
            "spec_link": spec_link,
            "spec_sha256": spec_digest(spec),
        },
    )
    write_outputs(project, out_dir, work, result, parts["junit"], parts["logs"])
    store.append_events(project.trace_path, project.lock_path, [finished_event(project, spec, result)])
    if not parts.get("step"):
        refresh_map(project)
    echo(render.terminal_table(result))
    echo(f"Report: {project.relative(out_dir / 'COMPLETION_STATUS.md')}")
    return result


def spec_digest(spec: ModuleSpec) -> str:
    """Fingerprint of the spec (its file or its pyproject table), so `check` can tell a result is stale."""
    return spec.path.digest()


def combine_module(project: Project, spec: ModuleSpec, echo: Echo) -> dict:
    """Merge the module's shards into one result, as an unsharded run would have produced."""
    shard_dirs = complete_shards(project, spec)
    context = prepare(project, spec, None, False, echo)
    metas = [results.read_json(d / "shard.json", "shard record") for d in shard_dirs]
    work = _workdir(project, spec.id)
    try:
        data = [d / ".coverage" for d in shard_dirs if (d / ".coverage").is_file()]
        if data:
            measure.combine(project.root, data, work / ".coverage")
        parts = {
            **context,
            "step": None,
            "started_at": min(m["started_at"] for m in metas),
            "options": metas[0]["options"],
            "shards": len(shard_dirs),
            "exit_codes": [c for m in metas for c in m["exit_codes"]],
            "junit": sorted(p for d in shard_dirs for p in d.glob("junit-*.xml")),
            "logs": [d / "pytest.log" for d in shard_dirs],
        }
        echo(f"Combining {len(shard_dirs)} shards of {spec.id}")
        result = publish(project, spec, work / ".coverage", work, parts, echo)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    shutil.rmtree(shard_dirs[0].parent, ignore_errors=True)
    return result


def load_any(project: Project, ref: str, cwd: Path | None = None) -> dict:
    """A stored result named by a results.json path, a spec path or a module id."""
    path = (cwd or Path.cwd()) / ref
    if ref.endswith(".json"):
        return results.load(path)
    spec = find_spec(project, ref, cwd)
    return results.load_module(project, spec.id)
