"""The project: its root, the `[tool.harness]` table and where its spec files are."""

import tomllib
from dataclasses import dataclass
from pathlib import Path

from harness.errors import SpecError, UsageError
from harness.spec.globs import find

_SETTINGS = {"specs", "reports", "trace", "map", "modules"}


@dataclass(frozen=True)
class Project:
    """Where a project keeps its specs and where the harness writes."""

    root: Path
    spec_globs: tuple[str, ...] = ("suites/*/module.yml",)
    reports_dir: str = "reports"
    trace_file: str = "trace.yml"
    map_file: str = "MAP.md"
    # `[tool.harness.modules.<id>]` tables as read, in file order; catalog.py parses each into a spec.
    module_tables: tuple[tuple[str, object], ...] = ()

    @property
    def reports(self) -> Path:
        return self.root / self.reports_dir

    @property
    def trace_path(self) -> Path:
        return self.root / self.trace_file

    @property
    def map_path(self) -> Path:
        return self.root / self.map_file

    @property
    def pyproject(self) -> Path:
        return self.root / "pyproject.toml"

    @property
    def lock_path(self) -> Path:
        return self.reports / ".harness.lock"

    def module_dir(self, module_id: str) -> Path:
        return self.reports / module_id

    def relative(self, path: Path) -> str:
        """`path` relative to the root, with forward slashes."""
        return path.resolve().relative_to(self.root).as_posix()


def find_root(start: Path) -> Path:
    """The nearest directory at or above `start` holding a pyproject.toml."""
    start = start.resolve()
    for candidate in (start, *start.parents):
        if (candidate / "pyproject.toml").is_file():
            return candidate
    raise UsageError(f"no pyproject.toml in {start} or any parent; pass --root")


def load_project(root: Path | None = None, cwd: Path | None = None) -> Project:
    """Read the project at `root` (or found upward from `cwd`) and its `[tool.harness]` table."""
    root = root.resolve() if root else find_root(cwd or Path.cwd())
    pyproject = root / "pyproject.toml"
    if not pyproject.is_file():
        raise UsageError(f"{root}: no pyproject.toml")
    try:
        table = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("tool", {}).get("harness", {})
    except tomllib.TOMLDecodeError as err:
        raise SpecError(f"{pyproject}: not valid TOML: {err}") from err
    return _project_from_table(root, pyproject, table)


def _project_from_table(root: Path, pyproject: Path, table: dict) -> Project:
    unknown = sorted(set(table) - _SETTINGS)
    if unknown:
        raise SpecError(
            f"{pyproject}: [tool.harness]: unknown key '{unknown[0]}' (known: {', '.join(sorted(_SETTINGS))})"
        )
    kwargs: dict = {}
    if "specs" in table:
        specs = table["specs"]
        if not isinstance(specs, list) or not all(isinstance(s, str) for s in specs) or not specs:
            raise SpecError(f"{pyproject}: [tool.harness] specs: expected a non-empty list of glob strings")
        kwargs["spec_globs"] = tuple(specs)
    for key, field in (("reports", "reports_dir"), ("trace", "trace_file"), ("map", "map_file")):
        if key in table:
            if not isinstance(table[key], str) or not table[key]:
                raise SpecError(f"{pyproject}: [tool.harness] {key}: expected a path string")
            kwargs[field] = table[key]
    if "modules" in table:
        if not isinstance(table["modules"], dict):
            raise SpecError(f"{pyproject}: [tool.harness] modules: expected [tool.harness.modules.<id>]")
        kwargs["module_tables"] = tuple(table["modules"].items())
    return Project(root=root, **kwargs)


def spec_paths(project: Project) -> list[Path]:
    """Every spec file the project's globs find, sorted, without duplicates."""
    found = {p.resolve() for pattern in project.spec_globs for p in find(project.root, pattern)}
    return sorted(found)
