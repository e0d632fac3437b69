"""The result as one plain dict, shaped for results.json from the run and its one evaluation (pure).

`assemble` shapes a run's result; `revise` gives a stored result a new evaluation (after `harness
mutate` or `harness accept`): both take what was decided from `decided`, so nothing is patched in
anywhere else. `map_row` is a module's row in MAP.md.
"""

from harness.evaluate import metrics as metric_targets
from harness.evaluate import mutation as gating
from harness.evaluate.evaluation import Evaluation
from harness.evaluate.status import STATUS_LABELS
from harness.measure.inputs import Inputs
from harness.measure.outcomes import Outcomes
from harness.measure.session import Measured
from harness.spec.model import ModuleSpec
from harness.store import layout


def assemble(
    spec: ModuleSpec, inputs: Inputs, measured: Measured, ev: Evaluation, spec_link: str, spec_sha256: str
) -> dict:
    """The result as stored in results.json: the run's data and its evaluation, shaped, nothing decided."""
    step = spec.steps[measured.step - 1] if measured.step else None
    tally = measured.outcomes.totals
    has_coverage = measured.files is not None and not measured.failure
    decided = decided_fields(ev)
    return {
        "module": spec.id, "title": spec.title, "status": decided["status"],
        "status_label": decided["status_label"], "reason": decided["reason"],
        "started_at": measured.started_at, "finished_at": measured.finished_at, "commit": measured.commit,
        "step": {"number": measured.step, "name": step.name} if step else None, "shards": measured.shards,
        "options": measured.options, "spec": spec_link, "spec_sha256": spec_sha256,
        "branch": bool(has_coverage and measured.branch),
        "tests": decided["tests"], "overall": ev.overall, "files": ev.files, "unmet": decided["unmet"],
        "steps": ev.steps, "baseline": _baseline_meta(inputs.baseline),
        "suites": _suites(measured.outcomes), "skips": tally.skips, "failures": tally.failures,
        "acceptance": decided["acceptance"], "carry_forward": decided["carry_forward"],
        "carried_in": [] if step else list(inputs.carried),
        "artifacts": _artifacts(has_coverage, spec_link, spec),
        "references": list(spec.references), "notes": spec.notes, "mutation": decided["mutation"],
        "deselected": measured.outcomes.deselected, "subtests": dict(tally.subtests),
        "metrics": decided["metrics"],
        "stability": decided["stability"],
    }  # fmt: skip


def revise(stored: dict, ev: Evaluation) -> dict:
    """A stored result with a new evaluation of the same figures (its keys stay in their order)."""
    return {**stored, **decided_fields(ev)}


def decided_fields(ev: Evaluation) -> dict:
    """What the evaluation decides of a result: status, why, what is unmet, mutation, metrics, acceptance,
    the tests' counts (a flaky test is never passed) and the stability section."""
    return {
        "status": ev.status,
        "status_label": STATUS_LABELS[ev.status],
        "reason": ev.reason,
        "unmet": ev.unmet,
        "acceptance": ev.acceptance,
        "carry_forward": ev.carry_forward,
        "mutation": ev.mutation,
        "metrics": ev.metrics,
        "tests": ev.tests,
        "stability": ev.stability,
    }


def _artifacts(has_coverage: bool, spec_link: str, spec: ModuleSpec) -> list[str]:
    names = layout.ARTIFACTS if has_coverage else layout.ARTIFACTS_WITHOUT_COVERAGE
    return [f"[{a}]({a})" for a in names] + [f"[module spec]({spec_link})", *spec.artifacts]


def mutation_artifacts(result: dict, stored: list[str]) -> dict:
    """The result with those of the module's mutation files (mutation.html, mutation.json) that are
    `stored` among its artifacts, and not the others; before the spec's link, in layout's order."""
    links = [f"[{a}]({a})" for a in layout.MUTATION_ARTIFACTS]
    kept = [a for a in result.get("artifacts", []) if a not in links]
    shown = [f"[{a}]({a})" for a in layout.MUTATION_ARTIFACTS if a in stored]
    at = next((n for n, a in enumerate(kept) if a.startswith("[module spec](")), len(kept))
    return {**result, "artifacts": [*kept[:at], *shown, *kept[at:]]}


def _baseline_meta(baseline: dict | None) -> dict | None:
    if not baseline:
        return None
    return {k: baseline.get(k) for k in ("module", "suites", "measured_at")}


def _suites(outcomes: Outcomes) -> dict:
    return {
        file: {
            **entry.tally.counts(),
            "classes": {
                cls: {**t.counts(), "subtests": dict(t.subtests)} for cls, t in sorted(entry.classes.items())
            },
            "subtests": dict(entry.tally.subtests),
        }
        for file, entry in sorted(outcomes.files.items())
    }


def map_row(spec: ModuleSpec, result: dict, link: str) -> dict:
    """A module's row in the MAP.md block."""
    return {
        "module": spec.id,
        "title": spec.title,
        "status": result["status"],
        "percent": result["overall"]["percent"],
        "tests": result["tests"],
        "finished_at": result["finished_at"],
        "link": link,
        "mutation": ((result.get("mutation") or {}).get("overall") or {}).get("score"),
        "mutated": gating.mutated_files(result),
        "metrics": metric_targets.counts(
            result.get("metrics"), (result.get("acceptance") or {}).get("accepted", [])
        ),
    }
