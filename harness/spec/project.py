"""The project: its root, the `[tool.harness]` table (if it has a pyproject.toml) and where its specs are."""

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
    found_by: str = "--root"  # what marked the root: a file of ROOT_MARKERS, ".git", or "--root"

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


# What marks a project's root: the files pytest and packaging tools read their settings from, and a git
# work tree's top. The nearest directory upward holding one of them is the root.
ROOT_MARKERS = (
    "pyproject.toml",
    "setup.cfg",
    "setup.py",
    "pytest.ini",
    ".pytest.ini",
    "pytest.toml",
    ".pytest.toml",
    "tox.ini",
)


def find_root(start: Path) -> tuple[Path, str]:
    """The nearest directory at or above `start` holding one of ROOT_MARKERS, else the nearest git work
    tree's root; and the marker found."""
    start = start.resolve()
    for marker_names in (ROOT_MARKERS, (".git",)):
        for candidate in (start, *start.parents):
            found = next((name for name in marker_names if (candidate / name).exists()), None)
            if found:
                return candidate, found
    raise UsageError(
        f"no project root at or above {start} (no {', '.join(ROOT_MARKERS)}, nor a git work tree);"
        " pass --root DIR"
    )


def load_project(root: Path | None = None, cwd: Path | None = None) -> Project:
    """Read the project at `root` (or found upward from `cwd`) and its `[tool.harness]` table, if any.

    A root without a pyproject.toml (a project configured in setup.cfg, say) has the default settings.
    """
    if root is None:
        root, marker = find_root(cwd or Path.cwd())
    else:
        root, marker = root.resolve(), "--root"
        if not root.is_dir():
            raise UsageError(f"--root {root}: no such directory")
    pyproject = root / "pyproject.toml"
    if not pyproject.is_file():
        return Project(root=root, found_by=marker)
    try:
        table = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("tool", {}).get("harness", {})
    except tomllib.TOMLDecodeError as err:
        raise SpecError(f"{pyproject}: not valid TOML: {err}") from err
    return _project_from_table(root, pyproject, table, marker)


def _project_from_table(root: Path, pyproject: Path, table: dict, marker: str) -> Project:
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
    return Project(root=root, found_by=marker, **kwargs)


def spec_paths(project: Project) -> list[Path]:
    """Every spec file the project's globs find, sorted, without duplicates."""
    found = {p.resolve() for pattern in project.spec_globs for p in find(project.root, pattern)}
    return sorted(found)
