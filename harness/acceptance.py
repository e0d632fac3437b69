"""The lead's acceptance of a variance: read from and recorded in trace.yml; unmet targets carry forward."""

from harness import outputs
from harness.errors import UsageError
from harness.evaluate import targets
from harness.spec.model import ModuleSpec
from harness.spec.project import Project
from harness.store import disk, layout, records, trace


def latest_acceptance(project: Project, module_id: str) -> dict | None:
    """The newest `variance_accepted` event for the module in trace.yml."""
    found = None
    for entry in disk.read_trace(project.trace_path):
        wanted = ("variance_accepted", module_id)
        if isinstance(entry, dict) and (entry.get("event"), entry.get("module")) == wanted:
            found = entry
    if not found:
        return None
    return {
        "rationale": found.get("rationale", ""),
        "accepted_at": found.get("at"),
        "accepted": list(found.get("accepted", [])),
    }


def accept_module(project: Project, spec: ModuleSpec, rationale: str) -> dict:
    """Record the lead's decision; the unmet targets become carry-forward items."""
    if not rationale.strip():
        raise UsageError("--rationale must say why the variance is accepted")
    at = layout.files(project, spec.id)
    result = records.load(at.result)
    if result["status"] == "failed":
        raise UsageError(
            f"{spec.id}: cannot accept a Failed result ({result['reason']}); fix the tests first"
        )
    if not result["unmet"]:
        raise UsageError(f"{spec.id}: every target is met; there is no variance to accept")
    items = targets.carry_forward_items(result["files"], result["overall"], spec.id)
    accepted = trace.event(
        project,
        spec.id,
        "variance_accepted",
        rationale=rationale.strip(),
        accepted=list(result["unmet"]),
        overall=result["overall"]["percent"],
    )
    carried = trace.event(
        project,
        spec.id,
        "carry_forward_created",
        items=[{k: i[k] for k in ("file", "percent", "target", "missing")} for i in items],
    )
    trace.record(project, accepted, carried)
    result = {
        **result,
        "status": "complete_with_variance",
        "status_label": targets.STATUS_LABELS["complete_with_variance"],
        "acceptance": {
            "rationale": accepted["rationale"],
            "accepted_at": accepted["at"],
            "accepted": accepted["accepted"],
        },
        "carry_forward": items,
    }
    with disk.project_lock(project.lock_path):
        outputs.write_report(at, result)
        outputs.write_result(at, result)
    outputs.refresh_map(project)
    return result
