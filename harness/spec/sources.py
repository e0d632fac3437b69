"""What a spec's `source` measures, found the way pytest-cov and coverage.py find it, before any test runs."""

import configparser
import contextlib
import json
import shlex
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import coverage
from coverage.exceptions import CoverageException
from coverage.files import GlobMatcher, find_python_files, prep_patterns

from harness.errors import SpecError

# Run with the interpreter and working directory of `python -m pytest`, so installed, editable and
# src-layout packages resolve as in the test process. Submodules are looked up in their parent's
# search path rather than imported: finding `pkg.sub` must not run the project's code.
_FIND = """
import importlib.machinery, importlib.util, json, sys
sys.path[:0] = json.loads(sys.argv[1])
def find(name):
    top, *rest = name.split(".")
    spec = importlib.util.find_spec(top)
    for part in rest:
        if spec is None or not spec.submodule_search_locations:
            return None
        locations = list(spec.submodule_search_locations)
        spec = importlib.machinery.PathFinder.find_spec(spec.name + "." + part, locations)
    if spec is None:
        return None
    return {"origin": spec.origin, "locations": list(spec.submodule_search_locations or [])}
found = {}
for name in sys.argv[2:]:
    try:
        found[name] = find(name)
    except Exception:
        found[name] = None
print(json.dumps(found))
"""


@dataclass(frozen=True)
class Located:
    """A `source` entry found: the directories coverage.py searches for files, or one module's file."""

    entry: str
    directories: tuple[Path, ...] = ()
    module: Path | None = None

    def files(self, include_namespace_packages: bool) -> list[Path]:
        """The .py files coverage.py reports for this entry once the tests import it."""
        if self.module is not None:
            return [self.module.resolve()] if self.module.suffix in (".py", ".pyw") else []
        found = {
            Path(name).resolve()
            for directory in self.directories
            for name in find_python_files(str(directory), include_namespace_packages)
        }
        return sorted(found)


@dataclass(frozen=True)
class CoverageSettings:
    """The project's coverage.py omit/include settings, with coverage.py's own matchers."""

    config_file: str
    include_namespace_packages: bool
    filters: tuple[tuple[str, bool, GlobMatcher], ...] = ()  # (setting, is an omit, matcher)

    def hidden_by(self, path: Path) -> str | None:
        """The setting that keeps `path` out of coverage.py's report, or None."""
        name = str(path.resolve())
        for setting, omit, matcher in self.filters:
            if matcher.match(name) == omit:
                return f"{setting} in {self.config_file}"
        return None


def coverage_settings(root: Path) -> CoverageSettings:
    """The configuration coverage.py reads in `root`: .coveragerc, setup.cfg, tox.ini or pyproject.toml."""
    # Patterns that do not start with a wildcard are relative to the working directory, as in the run.
    with contextlib.chdir(root):
        try:
            cov = coverage.Coverage(config_file=True)
        except CoverageException as err:
            raise SpecError(f"{root}: coverage.py configuration: {err}") from err
        # `[run] include` is left out: coverage.py ignores it when a source is given, as pytest-cov does.
        wanted = (("[run] omit", "run:omit", True), ("[report] omit", "report:omit", True))
        wanted += (("[report] include", "report:include", False),)
        filters = tuple(
            (setting, omit, GlobMatcher(prep_patterns(cov.get_option(option)), setting))
            for setting, option, omit in wanted
            if cov.get_option(option)
        )
    config_file = getattr(cov.config, "config_file", None)
    return CoverageSettings(
        config_file=Path(config_file).name if config_file else "the coverage configuration",
        include_namespace_packages=bool(cov.get_option("report:include_namespace_packages")),
        filters=filters,
    )


def locate(root: Path, entries: tuple[str, ...]) -> dict[str, Located | None]:
    """Each entry as coverage.py takes it: a directory if one exists, else a package."""
    found: dict[str, Located | None] = {}
    names = []
    for entry in entries:
        if (root / entry).is_dir():
            found[entry] = Located(entry, directories=((root / entry).resolve(),))
        elif all(part.isidentifier() for part in entry.split(".")):
            names.append(entry)
        else:
            found[entry] = None
    if names:
        found.update(_find_packages(root, names))
    return found


def _find_packages(root: Path, names: list[str]) -> dict[str, Located | None]:
    search = [str(root), *_pytest_pythonpath(root)]
    cmd = [sys.executable, "-c", _FIND, json.dumps(search), *names]
    try:
        out = subprocess.run(cmd, cwd=root, capture_output=True, text=True, timeout=60, check=True)
        specs = json.loads(out.stdout.strip().splitlines()[-1])
    except (OSError, subprocess.SubprocessError, ValueError, IndexError) as err:
        detail = getattr(err, "stderr", None) or str(err)
        last = detail.strip().splitlines()[-1] if detail.strip() else type(err).__name__
        raise SpecError(f"{root}: cannot look up source packages with {sys.executable}: {last}") from err
    return {name: _located(name, specs.get(name)) for name in names}


def _located(name: str, spec: dict | None) -> Located | None:
    if spec is None:
        return None
    if spec["locations"]:
        return Located(name, directories=tuple(Path(p) for p in spec["locations"]))
    origin = spec["origin"]  # None for a namespace package; "built-in" or "frozen" for some stdlib modules
    return Located(name, module=Path(origin) if origin and Path(origin).is_file() else None)


def _pytest_pythonpath(root: Path) -> list[str]:
    return [str(root / entry) for entry in pytest_option(root, "pythonpath")]


def pytest_option(root: Path, name: str) -> list[str]:
    """A list option (`pythonpath`, `testpaths`) of the root's pytest configuration, in pytest's lookup order.

    Only the root is searched: the harness runs pytest there with test paths under it.
    """
    found = pytest_settings(root)
    if found is None:
        return []
    value = found[1].get(name, [])
    entries = shlex.split(value) if isinstance(value, str) else value
    return [entry for entry in entries if isinstance(entry, str)]


def pytest_settings(root: Path) -> tuple[str, dict] | None:
    """The file pytest takes its configuration from in `root` (its name) and the options it sets there."""
    for config, read in _PYTEST_CONFIGS:
        path = root / config
        if not path.is_file():
            continue
        try:
            options = read(path)
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, configparser.Error):
            continue  # pytest itself reports a broken configuration when the run starts
        if options is not None:
            return config, options
    return None


def _toml_table(path: Path, *keys: str) -> dict | None:
    table = tomllib.loads(path.read_text(encoding="utf-8"))
    for key in keys:
        table = table.get(key) if isinstance(table, dict) else None
    return table if isinstance(table, dict) else None


def _pyproject(path: Path) -> dict | None:
    legacy = _toml_table(path, "tool", "pytest", "ini_options")
    return legacy if legacy is not None else _toml_table(path, "tool", "pytest")


def _ini_section(section: str, required: bool):
    def read(path: Path) -> dict | None:
        parser = configparser.ConfigParser(interpolation=None)
        parser.read(path, encoding="utf-8")
        if parser.has_section(section):
            return dict(parser[section])
        return None if required else {}

    return read


_PYTEST_CONFIGS = (
    ("pytest.toml", lambda p: _toml_table(p, "pytest") or {}),
    (".pytest.toml", lambda p: _toml_table(p, "pytest") or {}),
    ("pytest.ini", _ini_section("pytest", required=False)),
    (".pytest.ini", _ini_section("pytest", required=False)),
    ("pyproject.toml", _pyproject),
    ("tox.ini", _ini_section("pytest", required=True)),
    ("setup.cfg", _ini_section("tool:pytest", required=True)),
)
