"""What `harness site` shows of each module, read from the store, and the site written (reports/site/)."""

from dataclasses import dataclass, field
from pathlib import Path

from harness.errors import UsageError
from harness.spec.project import Project
from harness.store import disk, layout, records
from harness.store import mutation as stored_mutation


@dataclass(frozen=True)
class Stored:
    """One module as stored: its result, its Markdown reports (text) and other files (paths), by path
    relative to its directory, and its mutation record (with the texts of its files) when it has one
    but no mutation.html."""

    result: dict | None
    reports: dict[str, str] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)
    mutation: dict | None = None


def module_ids(project: Project, skip: Path | None = None) -> list[str]:
    """The modules with a stored result under reports/ (by id), leaving out the directory `skip`."""
    reports = layout.reports(project)
    if not reports.is_dir():
        return []
    return sorted(
        d.name
        for d in reports.iterdir()
        if d.is_dir() and d.resolve() != skip and layout.files(project, d.name).result.is_file()
    )


def stored(project: Project, module_id: str) -> Stored:
    """What the site shows of the module, as stored; scratch space (`.work/`) and hidden files left out."""
    at = layout.files(project, module_id)
    reports: dict[str, str] = {}
    files: dict[str, Path] = {}
    for path in sorted(at.module_dir.rglob("*")) if at.module_dir.is_dir() else ():
        rel = path.relative_to(at.module_dir)
        if not path.is_file() or any(part.startswith(".") for part in rel.parts):
            continue
        if path.suffix == ".md":
            reports[rel.as_posix()] = path.read_text(encoding="utf-8")
        else:
            files[rel.as_posix()] = path
    mutation = None
    if layout.MUTATION in files and layout.MUTATION_HTML not in files:
        mutation = stored_mutation.recover_texts(project, stored_mutation.load(at))
    result = records.load(at.result) if at.result.is_file() else None  # unreadable: a DataError, exit 2
    return Stored(result, reports, files, mutation)


def check_replaceable(dest: Path) -> None:
    """Refuse to replace a directory that is not empty and is not a site harness built."""
    ours = (dest / layout.SITE_MARKER).is_file()
    if dest.exists() and not ours and (not dest.is_dir() or any(dest.iterdir())):
        raise UsageError(f"{dest}: exists and is not a site harness built; remove it or choose another --out")


def write(pages: dict[str, bytes], copies: dict[str, Path], dest: Path) -> None:
    """Write the site (`pages` by path, and stored files copied) and swap it in for `dest` whole (the
    caller holds the project lock)."""
    check_replaceable(dest)
    with disk.new_dir(dest) as staging:
        for rel, data in sorted(pages.items()):
            disk.atomic_write(staging / rel, data)
        for rel, source in sorted(copies.items()):
            disk.copy_file(source, staging / rel)
        disk.atomic_write(staging / layout.SITE_MARKER, "harness site: `harness site` replaces it whole\n")
