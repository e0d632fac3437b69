"""Finding specs by id or path, and the checks that need the whole project (files, other modules)."""

from fnmatch import fnmatchcase
from pathlib import Path

from harness.errors import SpecError, UsageError
from harness.project import Project, measurable_files, source_dir, spec_paths
from harness.spec import ModuleSpec, Suite, Target, load_spec


def looks_like_path(ref: str) -> bool:
    return ref.endswith((".yml", ".yaml")) or "/" in ref or "\\" in ref


def all_specs(project: Project) -> list[ModuleSpec | SpecError]:
    """Every discovered spec, or the error that stops it from loading."""
    found: list[ModuleSpec | SpecError] = []
    for path in spec_paths(project):
        try:
            found.append(load_spec(path))
        except SpecError as err:
            found.append(err)
    return found


def find_spec(project: Project, ref: str, cwd: Path | None = None) -> ModuleSpec:
    """The spec a command names, by module id or by the path of its file."""
    if looks_like_path(ref):
        path = ((cwd or Path.cwd()) / ref).resolve()
        if not path.is_file():
            raise UsageError(f"{ref}: no such spec file")
        return load_spec(path)
    matches = []
    for path in spec_paths(project):
        try:
            spec = load_spec(path)
        except SpecError:
            if path.parent.name == ref:
                raise
            continue
        if spec.id == ref:
            matches.append(spec)
    if len(matches) > 1:
        raise SpecError(f"{matches[1].path}: id: '{ref}' is also the id of {matches[0].path}")
    if not matches:
        raise UsageError(f"no module '{ref}' (specs searched: {', '.join(project.spec_globs)})")
    return matches[0]


def check_spec(project: Project, spec: ModuleSpec) -> list[str]:
    """Everything checkable before tests run; returns the measurable files under `source`."""
    for source in spec.source:
        if not source_dir(project, source).exists():
            raise SpecError(
                f"{spec.path}: source: '{source}' is neither a path nor a package under {project.root}"
            )
    files = measurable_files(project, spec.source)
    _check_suites(project, spec)
    for target in _spec_targets(spec):
        if not any(fnmatchcase(f, target.pattern) for f in files):
            raise SpecError(
                f"{spec.path}: {_target_key(target)}: '{target.pattern}' matches no measured file"
                f" (source: {', '.join(spec.source)})"
            )
    _check_module_refs(project, spec)
    return files


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
