"""The project's files: what git tracks and does not ignore (or a filtered walk), and their fingerprint."""

import hashlib
import os
import subprocess
from pathlib import Path

from harness.spec.project import Project

# Never copied: version control, virtualenvs, caches and generated data (the git listing skips what
# .gitignore names; this list is for trees outside git and for what is tracked but must not travel).
SKIP_DIRS = {
    ".git",
    ".hg",
    ".venv",
    "venv",
    ".tox",
    ".nox",
    "__pycache__",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
    ".hypothesis",
    "node_modules",
    "htmlcov",
}


def project_files(root: Path, reports_dir: str) -> list[str]:
    """The files pytest may need: git's tracked and untracked-not-ignored files, else a filtered walk."""
    listed = _git_files(root)
    files = listed if listed is not None else _walked_files(root)
    skip_top = {reports_dir.strip("/").split("/")[0]}
    return sorted(f for f in files if not _skipped(f, skip_top) and (root / f).is_file())


def _git_files(root: Path) -> list[str] | None:
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=root,
            capture_output=True,
            timeout=60,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    return [name for name in out.stdout.decode("utf-8", "surrogateescape").split("\0") if name]


def _walked_files(root: Path) -> list[str]:
    found = []
    for current, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS and not (Path(current) / d / "pyvenv.cfg").exists()]
        found += [Path(current, f).relative_to(root).as_posix() for f in files if not f.endswith(".pyc")]
    return found


def _skipped(rel: str, skip_top: set[str]) -> bool:
    parts = rel.split("/")
    return (
        parts[0] in skip_top or any(p in SKIP_DIRS for p in parts[:-1]) or parts[-1].startswith(".coverage")
    )


def fingerprint(project: Project, leave_out: set[str]) -> str:
    """A digest of the project's files (path, size, modification time), without the files `leave_out`
    names (relative): what the harness itself writes, which changing must not count as a change."""
    digest = hashlib.sha256()
    for rel in project_files(project.root, project.reports_dir):
        if rel in leave_out:
            continue
        try:
            info = (project.root / rel).stat()
        except OSError:
            continue
        digest.update(f"{rel}\0{info.st_size}\0{info.st_mtime_ns}\n".encode("utf-8", "surrogateescape"))
    return digest.hexdigest()
