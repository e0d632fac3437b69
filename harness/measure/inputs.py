"""What a run looks up before any test runs: the spec checked against the project, the items carried in
from another module and the baseline (measured, or read back from `baseline.json`)."""

from collections.abc import Callable
from dataclasses import dataclass

from harness.errors import SpecError, UsageError
from harness.measure import baseline
from harness.run.session import RunOptions
from harness.spec.catalog import check_step
from harness.spec.model import ModuleSpec
from harness.spec.preflight import check_spec
from harness.spec.project import Project
from harness.store import layout, records
from harness.store import mutation as mutation_store

Echo = Callable[[str], None]


@dataclass(frozen=True)
class Inputs:
    """Looked up before any test runs: the items carried in from another module (a module-level run
    only: coverage's, and apart the metric targets' of its `metrics` section) and the baseline figures
    (`{"module", "suites", "measured_at", "files": {path: %}, "overall", "metrics": {name: figure}}`)."""

    carried: tuple[dict, ...] = ()
    baseline: dict | None = None
    carried_metrics: tuple[dict, ...] = ()


def prepare(
    project: Project, spec: ModuleSpec, step: int | None, rebaseline: bool, options: RunOptions, echo: Echo
) -> Inputs:
    """Every check and lookup that must pass before a test runs (a shard needs only the checks)."""
    files = check_spec(project, spec)
    check_step(spec, step)
    if spec.steps and step is None and any(a.startswith("--cov-context") for a in options.pytest_args):
        raise UsageError(
            f"{spec.id}: drop --cov-context (its steps' figures need the harness's own contexts)"
        )
    if options.shard:
        return Inputs()
    at = layout.files(project, spec.id)
    if step is None:
        mutation_store.load(at)  # read again when the result is published; unreadable: stop before the tests
    carried, carried_metrics = _carried_items(project, spec, files, echo) if step is None else ([], [])
    return Inputs(
        carried=tuple(carried),
        baseline=baseline.baseline_for(
            project, at, spec.baseline, spec.source, rebaseline, options, echo, str(spec.path)
        )
        if spec.baseline
        else None,
        carried_metrics=tuple(carried_metrics),
    )


def _carried_items(project: Project, spec: ModuleSpec, files: list[str], echo: Echo):
    """The carry-forward items of the module named by `carry_forward.from`: coverage's, and apart its
    metric targets' (from its `metrics` section)."""
    if not spec.carry_forward_from:
        return [], []
    source = records.load_module(project, spec.carry_forward_from, "carry_forward.from")
    items = source.get("carry_forward", [])
    figures = (source.get("metrics") or {}).get("carry_forward") or []
    if not items and not figures:
        echo(
            f"Note: {spec.carry_forward_from} has no carry-forward items (it was not accepted with variance)"
        )
    for item in items:
        if item["file"] != "overall" and item["file"] not in files:
            raise SpecError(
                f"{spec.path}: carry_forward.from: item '{item['file']}' of "
                f"{spec.carry_forward_from} is not under this module's source"
            )
    return items, figures
