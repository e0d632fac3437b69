"""`harness site`: what the site shows, read from the stored record, and the site written (reports/site/)."""

import contextlib
import shutil
import tempfile
from pathlib import Path

from harness.errors import DataError, UsageError
from harness.evaluate import history
from harness.mutation import record_format
from harness.report import mutation_schema, site
from harness.spec.catalog import all_specs
from harness.spec.model import ModuleSpec
from harness.spec.project import Project
from harness.store import disk, layout, records
from harness.store import mutation as stored_mutation

SITE_DIR = "site"
MARKER = ".harness-site"  # in every site harness writes: only such a directory is ever replaced


def build_site(project: Project, out: Path | None = None) -> tuple[Path, int]:
    """Build the site of every module from the stored record into `out` (default reports/site/)."""
    dest = (out or project.reports / SITE_DIR).resolve()
    _check_replaceable(dest)
    with disk.project_lock(project.lock_path):
        modules = gather(project, skip=dest)
        chart = project.reports / site.OVERVIEW_CHART
        built = site.build(modules, chart if chart.is_file() else None, _title(project))
        write(built, dest)
    return dest, len(modules)


def _title(project: Project) -> str:
    return f"{project.root.name}: test record"


def _check_replaceable(dest: Path) -> None:
    if dest.exists() and not (dest / MARKER).is_file() and (not dest.is_dir() or any(dest.iterdir())):
        raise UsageError(f"{dest}: exists and is not a site harness built; remove it or choose another --out")


def gather(project: Project, skip: Path | None = None) -> list[site.ModuleRecord]:
    """Every module with a spec (in catalog order), then every other module with a stored result."""
    specs = {s.id: s for s in all_specs(project) if isinstance(s, ModuleSpec)}
    stored = []
    if project.reports.is_dir():
        stored = sorted(
            d.name
            for d in project.reports.iterdir()
            if d.is_dir() and d.resolve() != skip and layout.files(project, d.name).result.is_file()
        )
    order = [*specs, *(m for m in stored if m not in specs)]
    runs = history.read_histories(project.trace_path, order)
    return [_module(project, module_id, specs.get(module_id), runs[module_id]) for module_id in order]


def _module(project: Project, module_id: str, spec: ModuleSpec | None, runs) -> site.ModuleRecord:
    reports, files = _stored_files(project.module_dir(module_id))
    result = records.load_if_any(project, module_id)
    limits = mutation_schema.thresholds(spec) if spec else mutation_schema.DEFAULT_THRESHOLDS
    mutation = None
    if layout.MUTATION in files and site.MUTATION_PAGE not in files:
        mutation = _mutation_record(project, files[layout.MUTATION])
    title = spec.title if spec else (result or {}).get("title") or module_id
    return site.ModuleRecord(module_id, title, result, tuple(runs), reports, files, mutation, limits)


def _stored_files(folder: Path) -> tuple[dict[str, str], dict[str, Path]]:
    """A module's Markdown reports (text) and other files (paths), by path relative to its directory;
    scratch space (`.work/`) and hidden files are left out."""
    reports: dict[str, str] = {}
    files: dict[str, Path] = {}
    if not folder.is_dir():
        return reports, files
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if not path.is_file() or any(part.startswith(".") for part in rel.parts):
            continue
        if path.suffix == ".md":
            reports[rel.as_posix()] = path.read_text(encoding="utf-8")
        else:
            files[rel.as_posix()] = path
    return reports, files


def _mutation_record(project: Project, path: Path) -> dict:
    """The module's mutation record, with the texts its mutants were made from (of unchanged files)."""
    data = stored_mutation.read_json(path, "mutation result")
    try:
        doc = record_format.decode(data)
    except DataError as err:
        raise DataError(f"{path}: {err}") from err
    candidates = {}
    for rel in doc["files"]:
        with contextlib.suppress(OSError, UnicodeDecodeError):
            candidates[rel] = (project.root / rel).read_bytes().decode("utf-8")
    return record_format.with_texts(doc, candidates)


def write(built: site.Site, dest: Path) -> None:
    """Write the site into a fresh directory beside `dest`, then swap it in whole."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent))
    try:
        for rel, data in sorted(built.pages.items()):
            disk.atomic_write(staging / rel, data)
        for rel, source in sorted(built.copies.items()):
            disk.atomic_write(staging / rel, source.read_bytes())
        disk.atomic_write(staging / MARKER, "harness site: `harness site` replaces this directory whole\n")
        disk.replace_dir(staging, dest)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
