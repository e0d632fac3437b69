"""The one evaluation: coverage, mutation scores and the lead's acceptance against the spec, and the
status, unmet keys and carry-forward items they give (pure).

`evaluate_run` judges what a session measured; `revise` judges a stored result again when what it
depends on changed after the run (new mutation scores, an acceptance). Both end in `_decide`, the one
place status is decided: stability findings that block (flaky or order-dependent tests, unstable
coverage; `harness.evaluate.stability_verdict`) make a module Unstable there, and keep it so on revision.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from harness.evaluate import metrics as metric_targets
from harness.evaluate import mutation as gating
from harness.evaluate import stability_verdict as stability
from harness.evaluate import status as states
from harness.evaluate import targets
from harness.evaluate.stability import Rules
from harness.measure.inputs import Inputs
from harness.measure.metrics import stored_figures
from harness.measure.session import Measured
from harness.spec.model import ModuleSpec, Step
from harness.store import trace
from harness.store.outcome_log import RunOutcomes


@dataclass(frozen=True)
class Evaluation:
    """Every file and the overall against targets and baseline, the steps, the mutation section, the
    status they give, and what the result shows of an acceptance and its carry-forward items."""

    files: dict[str, dict]
    overall: dict
    steps: list[dict]
    mutation: dict | None  # scores against `mutation:` targets; None without either
    metrics: dict | None  # recorded figures against `metrics:` targets; None without either
    unmet: list[str]
    status: str
    reason: str | None
    acceptance: dict | None  # shown only when it is what makes the module complete
    carry_forward: list[dict]
    tests: dict[str, int]  # by outcome over the repetitions: a flaky test is never passed
    stability: dict | None  # results.json's `stability` section; None when a plain run found nothing


@dataclass(frozen=True)
class Judged:
    """What was judged against the targets before status is decided (the sections of a result), and the
    stability verdict (results.json's `stability` section: its `blocking` lines make a module Unstable)."""

    files: dict[str, dict]
    overall: dict
    steps: list[dict]
    mutation: dict | None
    metrics: dict | None
    stability: dict | None = None


def acceptance_of(events: list[trace.Event], module_id: str) -> dict | None:
    """The module's latest acceptance (`harness accept`) as a result shows it, or None."""
    found = trace.of_module(events, trace.VarianceAccepted, module_id)
    if not found:
        return None
    latest = found[-1]
    return {"rationale": latest.rationale or "", "accepted_at": latest.at, "accepted": list(latest.accepted)}


def evaluate_run(
    spec: ModuleSpec,
    inputs: Inputs,
    measured: Measured,
    acceptance: dict | None,
    mutation_doc: dict | None,
    history: Sequence[RunOutcomes] = (),
) -> Evaluation:
    """A run's evaluation. `acceptance` is the module's latest (`acceptance_of`), `mutation_doc` its
    mutation.json without stale files; a step run takes neither. `history` is the outcome log with this
    run's record (tests flaky across runs at its source state)."""
    step = spec.steps[measured.step - 1] if measured.step else None
    has_figures = measured.files is not None and not measured.failure
    files, overall = _coverage_entries(spec, step, inputs, measured) if has_figures else ({}, _no_overall())
    overall["stretch"] = None if step else spec.stretch
    steps = targets.step_rows(() if step else spec.steps, files, measured.step_files) if has_figures else []
    mutation = None
    if has_figures and not step:
        mutation = _mutation(spec, inputs.carried, mutation_doc, list(files))
    figures = _metrics(spec, step, inputs, measured)
    counts, section = measured.outcomes.totals.counts(), None
    if measured.repeated is not None:
        found = stability.assess(
            measured.repeated, spec.stability, _rules(spec, step, inputs), history, whole_module=not step
        )
        counts, section = found.tests, found.section
    judged = Judged(files, overall, steps, mutation, figures, section)
    return _decide(spec.id, judged, measured.failure, counts, None if step else acceptance)


def revise(spec: ModuleSpec, stored: dict, acceptance: dict | None, mutation_doc: dict | None) -> Evaluation:
    """A stored module result judged again with the current mutation scores and acceptance; its
    coverage entries (judged when it ran) stay as they are."""
    failed = stored["status"] == "failed"
    mutation = stored.get("mutation")
    if stored["files"] and not failed:
        mutation = _mutation(spec, tuple(stored.get("carried_in", [])), mutation_doc, list(stored["files"]))
    failure = stored["reason"] if failed else None
    steps, figures = stored.get("steps", []), stored.get("metrics")
    judged = Judged(stored["files"], stored["overall"], steps, mutation, figures, stored.get("stability"))
    return _decide(spec.id, judged, failure, stored["tests"], acceptance)


def _decide(module_id: str, judged: Judged, failure, counts, acceptance) -> Evaluation:
    """Status from what was judged, the failure, the test counts and the acceptance (blocking stability
    findings make it Unstable, which an acceptance does not lift); with accepted variance, the
    carry-forward items (a metric target's in the metrics section)."""
    files, overall, mutation, figures = judged.files, judged.overall, judged.mutation, judged.metrics
    missed = []
    if files and not failure:
        missed = [*states.unmet(files, overall), *(mutation["unmet"] if mutation else [])]
        missed += figures["unmet"] if figures else []
    accepted = acceptance["accepted"] if acceptance else None
    blocking = (judged.stability or {}).get("blocking", [])
    state = stability.status(states.status(failure, counts, missed, accepted), blocking)
    variance, unstable = state == "complete_with_variance", state == stability.UNSTABLE
    if figures is not None:
        items = metric_targets.carry_forward_items(figures, module_id) if variance else []
        figures = {**figures, "carry_forward": items}
    return Evaluation(
        files=files,
        overall=overall,
        steps=judged.steps,
        mutation=mutation,
        metrics=figures,
        unmet=missed,
        status=state,
        reason=failure or _test_reason(counts) or (stability.reason(blocking) if unstable else None),
        acceptance=acceptance if variance else None,
        carry_forward=states.carry_forward_items(files, overall, module_id) if variance else [],
        tests=counts,
        stability=judged.stability,
    )


def _rules(spec: ModuleSpec, step: Step | None, inputs: Inputs) -> Rules:
    """The targets that gate a file in this run: which of them each repetition met (`met_in`)."""
    if step:
        return lambda path: [t for t in [targets.resolve(path, step.targets)] if t]
    return targets.rules_for(spec, targets.carried_targets(list(inputs.carried)))


def _metrics(spec: ModuleSpec, step: Step | None, inputs: Inputs, measured: Measured) -> dict | None:
    """The recorded figures against the module's `metrics:` (with the carried ones it does not bound
    itself) and each step's, or in a step run the step's alone."""
    if step:
        own, steps = step.metrics, ()
    else:
        carried = metric_targets.carried_targets(inputs.carried_metrics)
        own, steps = metric_targets.with_carried(spec.metrics, carried), spec.steps
    baseline = stored_figures((inputs.baseline or {}).get("metrics") or {}) or None
    return metric_targets.assess(own, measured.metrics, baseline, steps)


def _mutation(spec: ModuleSpec, carried_in: tuple[dict, ...], doc: dict | None, measured: list[str]):
    """Mutation scores against the spec's `mutation:` targets (module and step targets, and overall)."""
    carried = targets.carried_targets(list(carried_in))
    return gating.assess(doc, measured, targets.rules_for(spec, carried), spec.overall)


def _coverage_entries(spec: ModuleSpec, step: Step | None, inputs: Inputs, measured: Measured):
    """Per-file and overall entries against the module's (or the step's) targets and the baseline."""
    base = inputs.baseline or {"files": {}, "overall": None}
    if step:
        file_targets, carried, steps, rules = step.targets, (), (), []
    else:
        file_targets, steps = spec.targets, spec.steps
        carried = targets.carried_targets(list(inputs.carried))
        # Without an overall target of its own, the module takes over a carried overall item.
        overall_items = list(targets.carried_targets(list(inputs.carried), overall=True))
        rules = [spec.overall] if spec.overall else overall_items
    files = targets.evaluate_files(
        measured.files, file_targets, carried, steps, base["files"], measured.step_files
    )
    return files, targets.evaluate(measured.totals, rules, base["overall"])


def _no_overall() -> dict:
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
