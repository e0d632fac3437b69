"""Pre-flight checks of a spec against the project (its files, its coverage settings, other modules)."""

from harness.errors import SpecError, UsageError
from harness.spec.catalog import find_spec
from harness.spec.globs import file_key, matches
from harness.spec.model import ModuleSpec, Suite, Target
from harness.spec.project import Project
from harness.spec.sources import coverage_settings, locate


def check_spec(project: Project, spec: ModuleSpec) -> list[str]:
    """Everything checkable before tests run; returns the files coverage.py will report for `source`."""
    files, hidden = _measured_files(project, spec)
    _check_suites(project, spec)
    for target in _spec_targets(spec):
        if any(matches(f, target.pattern) for f in files):
            continue
        omitted = [f for f in hidden if matches(f, target.pattern)]
        if omitted:
            raise SpecError(
                f"{spec.path}: {_target_key(target)}: '{target.pattern}' names a file the project's"
                f" coverage configuration omits ({omitted[0]}: {hidden[omitted[0]]})"
            )
        raise SpecError(
            f"{spec.path}: {_target_key(target)}: '{target.pattern}' matches no measured file"
            f" (source: {', '.join(spec.source)})"
        )
    _check_module_refs(project, spec)
    return files


def _measured_files(project: Project, spec: ModuleSpec) -> tuple[list[str], dict[str, str]]:
    """The file keys coverage.py will report, and those its configuration hides, with the setting."""
    settings = coverage_settings(project.root)
    files: set[str] = set()
    hidden: dict[str, str] = {}
    for entry, located in locate(project.root, spec.source).items():
        if located is None:
            raise SpecError(
                f"{spec.path}: source: '{entry}' is neither a directory under {project.root}"
                " nor an importable package"
            )
        found = located.files(settings.include_namespace_packages)
        if not found:
            raise SpecError(f"{spec.path}: source: '{entry}' has no .py file to measure")
        kept = 0
        for path in found:
            key, reason = file_key(project.root, path), settings.hidden_by(path)
            if reason:
                hidden[key] = reason
            else:
                files.add(key)
                kept += 1
        if not kept:
            raise SpecError(
                f"{spec.path}: source: every .py file of '{entry}' is omitted by the project's coverage"
                f" configuration ({hidden[file_key(project.root, found[0])]})"
            )
    return sorted(files), hidden


def _spec_targets(spec: ModuleSpec) -> list[Target]:
    return [*spec.targets, *(t for step in spec.steps for t in step.targets)]


def _target_key(target: Target) -> str:
    if target.origin.startswith("step "):
        return f"steps[{target.origin.split()[1]}].targets"
    return "targets"


def _check_suites(project: Project, spec: ModuleSpec) -> None:
    labelled: list[tuple[str, Suite]] = [("suites", s) for s in spec.suites]
    labelled += [(f"steps[{i}].suites", s) for i, step in enumerate(spec.steps, 1) for s in step.suites]
    if spec.baseline and spec.baseline.suites:
        labelled += [("baseline.suites", s) for s in spec.baseline.suites]
    for key, suite in labelled:
        if not (project.root / suite.path.split("::")[0]).exists():
            raise SpecError(f"{spec.path}: {key}: '{suite.path}' does not exist")


def _check_module_refs(project: Project, spec: ModuleSpec) -> None:
    """Baseline and carry-forward modules exist, and baselines form no cycle."""
    chain = [spec.id]
    current = spec
    while current.baseline and current.baseline.module:
        ref = current.baseline.module
        if ref in chain:
            cycle = " -> ".join([*chain[chain.index(ref) :], ref])
            raise SpecError(f"{current.path}: baseline.module: cycle of baselines {cycle}")
        try:
            current = find_spec(project, ref)
        except UsageError as err:
            raise SpecError(f"{current.path}: baseline.module: module '{ref}' does not exist") from err
        chain.append(ref)
    if spec.carry_forward_from:
        try:
            find_spec(project, spec.carry_forward_from)
        except UsageError as err:
            raise SpecError(
                f"{spec.path}: carry_forward.from: module '{spec.carry_forward_from}' does not exist"
            ) from err
