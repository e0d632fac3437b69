"""The result of a run as one plain dict: assembled from its parts, stored as results.json, read back."""

import json
import os
from pathlib import Path

from harness import measure, targets
from harness.errors import DataError
from harness.junit import Tally
from harness.project import Project
from harness.spec import ModuleSpec, Step

ARTIFACTS = ("results.json", "coverage.json", "coverage.xml", "htmlcov/index.html", "junit.xml", "pytest.log")


def result_dir(project: Project, module_id: str, step: int | None = None) -> Path:
    base = project.module_dir(module_id)
    return base / "steps" / str(step) if step else base


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
    path = result_dir(project, module_id) / "results.json"
    if not path.is_file():
        hint = f" ({why})" if why else ""
        raise DataError(
            f"{path}: module '{module_id}' has no stored result{hint}; run `harness run {module_id}` first"
        )
    return load(path)


def dumps(result: dict) -> str:
    return json.dumps(result, indent=2, sort_keys=False) + "\n"


def assemble(spec: ModuleSpec, parts: dict) -> dict:
    """Build the result from a run's parts: tests, coverage report, baseline, carried items, acceptance.

    `parts` keys: started_at, finished_at, commit, tests (junit.read_junit output), report (coverage JSON or
    None), failure, baseline (figures dict or None), carried (items), acceptance (event or None), step
    (number or None), shards (count or None), options (dict), spec_link.
    """
    step_no = parts.get("step")
    step = spec.steps[step_no - 1] if step_no else None
    report = None if parts["failure"] else parts["report"]
    files, overall = _coverage(spec, step, report, parts)
    tally: Tally = parts["tests"]["totals"]
    counts, acceptance = tally.counts(), parts["acceptance"]
    unmet = targets.unmet(files, overall) if report else []
    status = targets.status(parts["failure"], counts, unmet, acceptance["accepted"] if acceptance else None)
    variance = status == "complete_with_variance"
    return {
        "module": spec.id, "title": spec.title, "status": status,
        "status_label": targets.STATUS_LABELS[status], "reason": parts["failure"] or _test_reason(counts),
        "started_at": parts["started_at"], "finished_at": parts["finished_at"], "commit": parts["commit"],
        "step": {"number": step_no, "name": step.name} if step else None, "shards": parts.get("shards"),
        "options": parts["options"], "spec": parts["spec_link"], "spec_sha256": parts.get("spec_sha256"),
        "branch": bool(report and report["meta"]["branch_coverage"]),
        "tests": counts, "overall": overall, "files": files, "unmet": unmet,
        "steps": targets.step_rows(() if step else spec.steps, files) if report else [],
        "baseline": _baseline_meta(parts["baseline"]), "suites": _suites(parts["tests"]["files"]),
        "skips": tally.skips, "failures": tally.failures,
        "acceptance": acceptance if variance else None,
        "carry_forward": targets.carry_forward_items(files, overall, spec.id) if variance else [],
        "carried_in": [] if step else list(parts["carried"]),
        "artifacts": _artifacts(report is not None, parts["spec_link"], spec),
        "references": list(spec.references), "notes": spec.notes,
    }  # fmt: skip


def _coverage(spec: ModuleSpec, step: Step | None, report: dict | None, parts: dict) -> tuple[dict, dict]:
    """Per-file and overall entries against the module's (or the step's) targets and the baseline."""
    overall = _empty_overall()
    overall["stretch"] = None if step else spec.stretch
    if not report:
        return {}, overall
    base = parts["baseline"] or {"files": {}, "overall": None}
    if step:
        file_targets, carried, steps, rules = step.targets, (), (), []
    else:
        file_targets, steps = spec.targets, spec.steps
        carried = targets.carried_targets(parts["carried"])
        # Without an overall target of its own, the module takes over a carried overall item.
        rules = (
            [spec.overall] if spec.overall else list(targets.carried_targets(parts["carried"], overall=True))
        )
    files = targets.evaluate_files(measure.file_figures(report), file_targets, carried, steps, base["files"])
    overall = {
        **targets.evaluate(measure.totals(report), rules, base["overall"]),
        "stretch": overall["stretch"],
    }
    return files, overall


def _artifacts(has_coverage: bool, spec_link: str, spec: ModuleSpec) -> list[str]:
    names = ARTIFACTS if has_coverage else ("results.json", "junit.xml", "pytest.log")
    return [f"[{a}]({a})" for a in names] + [f"[module spec]({spec_link})", *spec.artifacts]


def _empty_overall() -> dict:
    return {
        "statements": None,
        "missed": None,
        "percent": None,
        "baseline": None,
        "delta": None,
        "target": None,
        "met": None,
        "gating": False,
        "gating_met": True,
        "checks": [],
    }


def _test_reason(counts: dict) -> str | None:
    bad = counts["failed"] + counts["errors"]
    return f"{bad} test{'s' if bad != 1 else ''} failed or errored" if bad else None


def _baseline_meta(baseline: dict | None) -> dict | None:
    if not baseline:
        return None
    return {k: baseline.get(k) for k in ("module", "suites", "measured_at")}


def _suites(files: dict) -> dict:
    return {
        file: {
            **entry["tally"].counts(),
            "classes": {cls: t.counts() for cls, t in sorted(entry["classes"].items())},
        }
        for file, entry in sorted(files.items())
    }


def baseline_from_result(result: dict, module_id: str) -> dict:
    return {
        "module": module_id,
        "suites": None,
        "measured_at": result.get("finished_at"),
        "files": {p: f["percent"] for p, f in result["files"].items()},
        "overall": result.get("overall", {}).get("percent"),
    }


def map_rows(project: Project, specs: list[ModuleSpec]) -> list[dict]:
    """One MAP.md row per module with a stored result."""
    rows = []
    for spec in sorted(specs, key=lambda s: s.id):
        path = result_dir(project, spec.id) / "results.json"
        if not path.is_file():
            continue
        try:
            result = load(path)
        except DataError:
            continue
        report = path.parent / "COMPLETION_STATUS.md"
        rows.append(
            {
                "module": spec.id,
                "title": spec.title,
                "status": result["status"],
                "percent": result["overall"]["percent"],
                "tests": result["tests"],
                "finished_at": result["finished_at"],
                "link": Path(os.path.relpath(report, project.map_path.parent)).as_posix(),
            }
        )
    return rows
