"""A module's result judged, under the publish lock, from what is stored at that moment: a run's
evaluated and shaped, a stored one judged again (after `harness mutate` or `harness accept`), and the
events an acceptance logs."""

import os
from collections.abc import Sequence
from pathlib import Path

from harness.errors import UsageError
from harness.evaluate import metrics as metric_targets
from harness.evaluate import shape
from harness.evaluate.evaluation import acceptance_of, evaluate_run, revise
from harness.evaluate.status import carry_forward_items
from harness.measure.inputs import Inputs
from harness.measure.session import Measured
from harness.spec.model import ModuleSpec
from harness.spec.project import Project
from harness.store import layout, outcome_log, trace
from harness.store import mutation as mutation_store
from harness.store.outcome_log import RunOutcomes


def run_result(
    project: Project,
    spec: ModuleSpec,
    inputs: Inputs,
    measured: Measured,
    history: Sequence[Path],
    record: RunOutcomes | None,
) -> dict:
    """A run's result: the acceptance, the mutation scores and the outcome log (with `history`, other
    machines' logs, and the run's own `record`) read now, evaluated and shaped for results.json."""
    at = layout.files(project, spec.id, measured.step)
    module_level = measured.step is None
    acceptance = acceptance_of(trace.read(project), spec.id) if module_level else None
    mutation_doc = mutation_store.fresh(project, spec.id) if module_level else None
    logged = [*outcome_log.read([at.outcomes, *history]), *([record] if record else [])]
    ev = evaluate_run(spec, inputs, measured, acceptance, mutation_doc, logged)
    spec_link = Path(os.path.relpath(spec.path, at.dir)).as_posix()
    result = shape.assemble(spec, inputs, measured, ev, spec_link, spec.path.digest())
    return shape.mutation_artifacts(result, mutation_store.stored_files(at)) if module_level else result


def again(project: Project, spec: ModuleSpec, result: dict) -> dict:
    """A stored result judged again with the module's latest acceptance and current mutation scores."""
    acceptance = acceptance_of(trace.read(project), spec.id)
    mutation_doc = mutation_store.fresh(project, spec.id)
    revised = shape.revise(result, revise(spec, result, acceptance, mutation_doc))
    return shape.mutation_artifacts(revised, mutation_store.stored_files(layout.files(project, spec.id)))


def acceptance(
    module_id: str, result: dict, rationale: str, commit: str | None
) -> tuple[trace.VarianceAccepted, trace.CarryForwardCreated]:
    """What `harness accept` logs of `result`: the variance accepted and its carry-forward items. A
    Failed result, or one with every target met, has no variance to accept."""
    if result["status"] == "failed":
        raise UsageError(
            f"{module_id}: cannot accept a Failed result ({result['reason']}); fix the tests first"
        )
    if not result["unmet"]:
        raise UsageError(f"{module_id}: every target is met; there is no variance to accept")
    items = carry_forward_items(result["files"], result["overall"], module_id)
    accepted = trace.VarianceAccepted(
        module=module_id,
        commit=commit,
        rationale=rationale.strip(),
        accepted=tuple(result["unmet"]),
        overall=result["overall"]["percent"],
    )
    kept = ("file", "percent", "target", "missing")
    figures = metric_targets.carry_forward_items(result.get("metrics"), module_id)
    metric_kept = ("metric", "stat", "final", "unit", "bounds")
    logged = [{k: i[k] for k in kept} for i in items] + [{k: i[k] for k in metric_kept} for i in figures]
    return accepted, trace.CarryForwardCreated(module=module_id, commit=commit, items=tuple(logged))
