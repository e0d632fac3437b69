"""`harness init`: find a project's packages and tests, measure them once, write a first module spec."""

import configparser
import json
import re
import shutil
import tempfile
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal
from pathlib import Path

from harness.errors import DataError, HarnessError, SpecError, UsageError
from harness.measure import coverage
from harness.run import progress
from harness.run.session import RunOptions, run_session, selection_text
from harness.spec.catalog import all_specs
from harness.spec.globs import matches
from harness.spec.model import ModuleSpec, SpecSource, Suite
from harness.spec.parse import is_module_id, load_spec, spec_from_table, table_name
from harness.spec.preflight import check_spec
from harness.spec.project import Project
from harness.spec.sources import pytest_option
from harness.store import disk

Echo = Callable[[str], None]

# Top-level directories and modules that hold tests, docs, tooling or builds rather than the product.
_NOT_PACKAGES = {"tests", "test", "testing", "suites", "docs", "doc", "examples", "example", "benchmarks"}
_NOT_PACKAGES |= {"build", "dist", "scripts", "tools", "site-packages"}
_NOT_MODULES = {"setup.py", "conftest.py", "noxfile.py", "manage.py", "fabfile.py"}


class MeasureFailed(HarnessError):
    """The measuring run failed or measured nothing; no spec is written (exit status 1)."""


@dataclass(frozen=True)
class Draft:
    """What init found or was told: the module id, what to measure, what to run, and where it goes.

    `k` / `markers` select tests within every suite path (pytest's `-k` / `-m`), as the spec then says.
    """

    module_id: str
    sources: tuple[str, ...]
    suites: tuple[str, ...]
    destination: Path
    in_pyproject: bool
    k: str | None = None
    markers: str | None = None

    def suite_entries(self) -> tuple[Suite, ...]:
        return tuple(Suite(path, self.k, self.markers) for path in self.suites)

    def selection(self) -> dict[str, str]:
        """The spec keys of the selection, in the order they are written."""
        return {key: value for key, value in (("k", self.k), ("markers", self.markers)) if value}


def find_sources(root: Path) -> tuple[tuple[str, ...], str]:
    """The project's own code and its layout: src/<pkg>, then <pkg>/__init__.py, then top-level modules."""
    src = root / "src"
    if src.is_dir():
        found = [d.name for d in _dirs(src) if any(d.rglob("*.py"))]
        if found:
            return tuple(f"src/{name}" for name in found), "src layout"
    found = [d.name for d in _dirs(root) if (d / "__init__.py").is_file()]
    if found:
        return tuple(found), "flat layout"
    modules = [p.stem for p in sorted(root.glob("*.py")) if _is_module(p)]
    if modules:
        return tuple(modules), "top-level module"
    raise UsageError(
        f"{root}: no package found (src/<pkg>/, <pkg>/__init__.py or <module>.py); give --source"
    )


def _dirs(parent: Path) -> list[Path]:
    return sorted(
        d for d in parent.iterdir() if d.is_dir() and d.name.isidentifier() and d.name not in _NOT_PACKAGES
    )


def _is_module(path: Path) -> bool:
    return path.stem.isidentifier() and path.name not in _NOT_MODULES and not _is_test_file(path.name)


def _is_test_file(name: str) -> bool:
    """pytest's default test file names: `test_*.py` and `*_test.py`."""
    return re.fullmatch(r"test_.*\.py|.*_test\.py", name) is not None


def find_suites(root: Path) -> tuple[tuple[str, ...], str]:
    """The test paths: pytest's `testpaths` if the project sets it, else tests/ and test/ directories,
    else test files beside the code at the root (`test_*.py`, `*_test.py`: pytest's default names)."""
    testpaths = pytest_option(root, "testpaths")
    found = [p for p in testpaths if (root / p).exists()]
    if found:
        return tuple(found), "testpaths in the pytest configuration"
    found = [name for name in ("tests", "test") if (root / name).is_dir()]
    if found:
        return tuple(found), "test directories"
    found = [p.name for p in sorted(root.glob("*.py")) if _is_test_file(p.name)]
    if found:
        return tuple(found), "test files at the root"
    raise UsageError(
        f"{root}: no tests found (pytest testpaths, tests/ or test/, test_*.py at the root); give --suites"
    )


def default_id(root: Path, sources: tuple[str, ...]) -> str:
    """The project's name (pyproject.toml, else setup.cfg), else its first package's, as a module id."""
    name = _project_name(root) or (sources[0].rsplit("/", 1)[-1] if sources else root.name)
    return re.sub(r"[^A-Za-z0-9._-]+", "-", str(name)).strip("-._") or "module"


def _project_name(root: Path) -> str | None:
    """`[project] name` of pyproject.toml, else `[metadata] name` of setup.cfg; None when neither says."""
    try:
        name = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]["name"]
    except (OSError, tomllib.TOMLDecodeError, KeyError, TypeError):
        name = None
    if name is None:
        parser = configparser.ConfigParser(interpolation=None)
        try:
            parser.read(root / "setup.cfg", encoding="utf-8")
        except (configparser.Error, UnicodeDecodeError):
            return None
        name = parser.get("metadata", "name", fallback=None)
    return (str(name).strip() or None) if name is not None else None


def settings_note(project: Project) -> str | None:
    """Where the project's harness settings live, for a root without a pyproject.toml (None with one)."""
    if project.pyproject.is_file():
        return None
    how = "given by --root" if project.found_by == "--root" else f"found by its {project.found_by}"
    return (
        f"Project root: {project.root} ({how}). It has no pyproject.toml, so harness uses its default"
        " settings; to change them, create pyproject.toml there with a [tool.harness] table"
    )


def plan(
    project: Project, module_id: str, sources, suites, in_pyproject: bool, k=None, markers=None
) -> Draft:
    """The draft spec, refused before tests run if a spec for it exists or it fails pre-flight."""
    if not is_module_id(module_id):
        raise UsageError(f"--id: {module_id!r} is not a module id (letters, digits, '.', '_', '-')")
    destination = project.pyproject if in_pyproject else project.root / "suites" / module_id / "module.yml"
    if in_pyproject and module_id in dict(project.module_tables):
        raise UsageError(f"{destination}: [{table_name(module_id)}] exists; init never overwrites a spec")
    if not in_pyproject and destination.exists():
        raise UsageError(f"{destination} exists; init never overwrites a spec (choose another --id)")
    for spec in all_specs(project):
        if isinstance(spec, ModuleSpec) and spec.id == module_id:
            raise UsageError(f"module '{module_id}' already has a spec: {spec.path}")
    draft = Draft(
        module_id, tuple(sources), tuple(suites), destination, in_pyproject, k or None, markers or None
    )
    try:
        check_spec(project, _as_spec(draft))
    except SpecError as err:  # the spec file does not exist yet: name only the key
        raise UsageError(str(err).replace(f"{_as_spec(draft).path}: ", "", 1)) from err
    return draft


def _as_spec(draft: Draft) -> ModuleSpec:
    return ModuleSpec(
        path=SpecSource(draft.destination),
        id=draft.module_id,
        title=draft.module_id,
        source=draft.sources,
        suites=draft.suite_entries(),
    )


def measure_once(project: Project, draft: Draft, echo: Echo) -> tuple[dict, tuple[str, ...]]:
    """Run the suites once under coverage, as `harness run` would; the JSON report and pytest's summaries."""
    work = Path(tempfile.mkdtemp(prefix="harness-init-"))
    keep_log = False
    try:
        session = run_session(
            project.root,
            draft.suite_entries(),
            draft.sources,
            work,
            RunOptions(),
            echo,
            progress.for_run(False, False),
        )
        broken = [(c, s) for c, s in zip(session.exit_codes, session.summaries, strict=False) if c != 0]
        if broken:
            keep_log = True
            code, summary = broken[0]
            raise MeasureFailed(
                f"the tests did not pass ({summary or 'no summary'}; pytest exit status {code});"
                " no spec written (tests that cannot pass here, needing a browser or a service, can be"
                " left out with -k or -m, or choose paths with --suites)."
                f" pytest's output: {session.log_file}"
            )
        report = _report(project, draft, session.data_file, work / "out")
    finally:
        if not keep_log:
            shutil.rmtree(work, ignore_errors=True)
    return report, session.summaries


def _report(project: Project, draft: Draft, data_file: Path, out: Path) -> dict:
    nothing = (
        f"coverage.py measured nothing under {', '.join(draft.sources)}; no spec written"
        " (do the tests import the package from another path, e.g. an installed copy? give --source)"
    )
    if not data_file.is_file():
        raise MeasureFailed(nothing)
    try:
        report = coverage.json_report(project.root, data_file, out)
    except DataError as err:
        raise MeasureFailed(nothing) from err
    totals = coverage.totals(report)
    if totals["statements"] == totals["missed"]:
        raise MeasureFailed(nothing)
    return report


def floor_percent(figure: float) -> float:
    """The figure floored to 2 decimals: never above it, and below it by less than 0.01."""
    return float(Decimal(figure).quantize(Decimal("0.01"), rounding=ROUND_FLOOR))


def targets_from(report: dict) -> tuple[dict[str, tuple[float, float]], tuple[float, float]]:
    """Per file and overall: (target, measured figure)."""
    files = {
        path: (floor_percent(f["percent"]), f["percent"]) for path, f in coverage.file_figures(report).items()
    }
    overall = coverage.totals(report)["percent"]
    return files, (floor_percent(overall), overall)


def header(when: str, summaries: tuple[str, ...]) -> list[str]:
    """The comment lines that say the spec was generated, when, and from what."""
    ran = "; ".join(s for s in summaries if s) or "the tests passed"
    return [
        f"Generated by `harness init` on {when} from one run of the suites below ({ran}).",
        "Each target is the measured percent (in its comment) floored to 2 decimals, so the first",
        "`harness check` passes and losing a covered line or branch fails. Raise targets as tests grow.",
    ]


def render_yaml(draft: Draft, files: dict, overall: tuple[float, float], comments: list[str]) -> str:
    lines = [f"# {line}" for line in comments]
    lines += [f"id: {draft.module_id}", f"title: {_scalar(_title(draft))}", "source:"]
    lines += [f"  - {_scalar(s)}" for s in draft.sources]
    lines += ["suites:", *(f"  - {_yaml_suite(draft, s)}" for s in draft.suites), "targets:"]
    lines += [f"  {_scalar(path)}: {_number(t)}  # measured {m!r}" for path, (t, m) in files.items()]
    lines.append(f"overall: {_number(overall[0])}  # measured {overall[1]!r}")
    return "\n".join(lines) + "\n"


def render_toml(draft: Draft, files: dict, overall: tuple[float, float], comments: list[str]) -> str:
    table = table_name(draft.module_id)
    lines = [f"# {line}" for line in comments]
    lines += [f"[{table}]", f"title = {json.dumps(_title(draft))}"]
    suites = [_toml_suite(draft, s) for s in draft.suites]
    lines += [f"source = {json.dumps(list(draft.sources))}", f"suites = [{', '.join(suites)}]"]
    lines += [f"overall = {_number(overall[0])}  # measured {overall[1]!r}", "", f"[{table}.targets]"]
    lines += [f"{json.dumps(path)} = {_number(t)}  # measured {m!r}" for path, (t, m) in files.items()]
    return "\n".join(lines) + "\n"


def _yaml_suite(draft: Draft, path: str) -> str:
    if not draft.selection():
        return _scalar(path)
    pairs = [f"path: {_scalar(path)}", *(f"{key}: {json.dumps(v)}" for key, v in draft.selection().items())]
    return "{" + ", ".join(pairs) + "}"


def _toml_suite(draft: Draft, path: str) -> str:
    if not draft.selection():
        return json.dumps(path)
    pairs = [
        f"path = {json.dumps(path)}",
        *(f"{key} = {json.dumps(v)}" for key, v in draft.selection().items()),
    ]
    return "{" + ", ".join(pairs) + "}"


def _title(draft: Draft) -> str:
    return f"Coverage of {', '.join(draft.sources)}"


def _scalar(text: str) -> str:
    """A YAML scalar: plain when it reads back as the same string, else double-quoted."""
    plain = re.fullmatch(r"[A-Za-z_./][A-Za-z0-9_./ -]*", text) and not text.endswith(" ")
    words = {"true", "false", "yes", "no", "on", "off", "null", "y", "n"}
    return text if plain and text.lower() not in words else json.dumps(text)


def _number(value: float) -> str:
    return str(int(value)) if value == int(value) else repr(value)


def write_spec(project: Project, draft: Draft, text: str) -> None:
    """Write the spec and read it back through the spec parser; a spec that does not load is not left."""
    if draft.in_pyproject:
        old = project.pyproject.read_bytes().decode("utf-8")  # bytes: line endings stay as they were
        new = old + ("\n" if old.endswith("\n") else "\n\n") + text
        try:
            tables = tomllib.loads(new)["tool"]["harness"]["modules"]
        except (tomllib.TOMLDecodeError, KeyError, TypeError) as err:
            raise UsageError(
                f"{project.pyproject}: cannot add [{table_name(draft.module_id)}]: {err}"
            ) from err
        spec_from_table(project.pyproject, draft.module_id, tables[draft.module_id])
        disk.atomic_write(project.pyproject, new)
        return
    disk.atomic_write(draft.destination, text)
    try:
        load_spec(draft.destination)
    except HarnessError:
        draft.destination.unlink()
        raise


def init_project(
    project: Project, module_id, sources, suites, in_pyproject: bool, echo: Echo, k=None, markers=None
) -> Path:
    """Find what the options leave open, measure once, write the spec; returns where it went."""
    if in_pyproject and not project.pyproject.is_file():
        raise UsageError(
            f"{project.root}: no pyproject.toml for --pyproject to add the spec to; create one"
            " (an empty file will do) or leave out --pyproject to write suites/<id>/module.yml"
        )
    note = settings_note(project)
    if note:
        echo(note)
    if not sources:
        sources, layout = find_sources(project.root)
        echo(f"Found {layout}: {', '.join(sources)}")
    if not suites:
        suites, where = find_suites(project.root)
        echo(f"Found tests ({where}): {', '.join(suites)}")
    module_id = module_id or default_id(project.root, sources)
    draft = plan(project, module_id, sources, suites, in_pyproject, k, markers)
    echo(
        f"Measuring {draft.module_id} once: {', '.join(draft.suites)}{selection_text(draft.k, draft.markers)}"
        f" under coverage of {', '.join(sources)}"
    )
    report, summaries = measure_once(project, draft, echo)
    files, overall = targets_from(report)
    render = render_toml if in_pyproject else render_yaml
    write_spec(project, draft, render(draft, files, overall, header(disk.now(), summaries)))
    rel = project.relative(draft.destination)
    place = f"[{table_name(draft.module_id)}] in {rel}" if in_pyproject else rel
    echo(f"Wrote {place}: {len(files)} file target(s), overall {_number(overall[0])}")
    if not in_pyproject and not any(matches(rel, glob) for glob in project.spec_globs):
        echo(f"Note: [tool.harness] specs ({', '.join(project.spec_globs)}) does not find {rel}; add it")
    echo(f"Next: harness run {draft.module_id}, then harness check {draft.module_id} in CI")
    return draft.destination
