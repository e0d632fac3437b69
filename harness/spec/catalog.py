"""Finding specs: every spec of the project, or the one a command names by id or path."""

from collections.abc import Callable
from pathlib import Path

from harness.errors import SpecError, UsageError
from harness.spec.model import ModuleSpec
from harness.spec.parse import load_spec, spec_from_table
from harness.spec.project import Project, spec_paths

Loaded = ModuleSpec | SpecError


def looks_like_path(ref: str) -> bool:
    return ref.endswith((".yml", ".yaml", ".toml")) or "/" in ref or "\\" in ref


def _load_each(project: Project) -> list[tuple[str, Loaded]]:
    """Every spec file the globs find, then every `[tool.harness.modules.<id>]` table, each with the id
    it is filed under (a spec file's directory name, a table's key) or the error that stops it loading."""
    found: list[tuple[str, Loaded]] = []
    for path in spec_paths(project):
        found.append((path.parent.name, _attempt(load_spec, path)))
    for key, table in project.module_tables:
        found.append((key, _attempt(spec_from_table, project.pyproject, key, table)))
    return found


def _attempt(load, *args) -> Loaded:
    try:
        return load(*args)
    except SpecError as err:
        return err


def all_specs(project: Project) -> list[Loaded]:
    """Every discovered spec, or the error that stops it from loading (a repeated id among them)."""
    found: list[Loaded] = []
    first: dict[str, ModuleSpec] = {}
    for _, spec in _load_each(project):
        if isinstance(spec, ModuleSpec) and spec.id in first:
            spec = _duplicate(spec, first[spec.id])
        elif isinstance(spec, ModuleSpec):
            first[spec.id] = spec
        found.append(spec)
    return found


def _duplicate(spec: ModuleSpec, earlier: ModuleSpec) -> SpecError:
    return SpecError(f"{spec.path}: id: '{spec.id}' is also the id of {earlier.path}")


def find_spec(project: Project, ref: str, cwd: Path | None = None) -> ModuleSpec:
    """The spec a command names, by module id or by the path of its file."""
    if looks_like_path(ref):
        path = ((cwd or Path.cwd()) / ref).resolve()
        if not path.is_file():
            raise UsageError(f"{ref}: no such spec file")
        if path.name == "pyproject.toml":
            raise UsageError(f"{ref}: name a module kept in pyproject.toml by its id")
        return load_spec(path)
    found = []
    for filed_as, spec in _load_each(project):
        if isinstance(spec, SpecError):
            if filed_as == ref:
                raise spec
        elif spec.id == ref:
            found.append(spec)
    if len(found) > 1:
        raise _duplicate(found[1], found[0])
    if not found:
        searched = [*project.spec_globs, *(["[tool.harness.modules]"] if project.module_tables else [])]
        raise UsageError(f"no module '{ref}' (specs searched: {', '.join(searched)})")
    return found[0]


def named_or_each(project: Project, module: str | None, having: Callable[[str], bool]) -> list[ModuleSpec]:
    """The spec `module` names, else every module spec (in catalog order) whose id `having` holds for:
    what `harness combine` takes."""
    if module:
        return [find_spec(project, module)]
    return [s for s in all_specs(project) if isinstance(s, ModuleSpec) and having(s.id)]


def check_step(spec: ModuleSpec, step: int | None) -> None:
    """`--step N` names one of the spec's steps (a run's, or a history's while the spec is there)."""
    if step is None or 1 <= step <= len(spec.steps):
        return
    count = len(spec.steps)
    has = f"{count} step{'s' if count != 1 else ''}" if count else "no steps"
    raise UsageError(f"{spec.id} has {has}; --step {step} does not exist")
