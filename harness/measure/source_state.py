"""The source state a run tested: the same key on every machine that has the same files.

In a git checkout it is the commit, with a digest of the local changes after a `+` when there are any
(`3f2a…+9c1e…`); elsewhere a digest of every project file (`files:…`). What the harness itself writes
(the reports, trace.yml, MAP.md) is left out, so a run does not change the state the next one sees.
"""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Sequence
from pathlib import Path

from harness.spec.project import Project
from harness.spec.tree import project_files  # the same files `harness mutate` copies
from harness.store import layout

DIGEST_CHARS = 16


def source_state(root: Path, own: Sequence[str]) -> str:
    """The key of the files under `root` as they are now; `own` are the paths the harness writes (the
    project's reports directory, trace and map files: `store.layout`)."""
    commit = _git(root, "rev-parse", "HEAD")
    if commit is None:
        return f"files:{_digest(root, _walk(root, own))}"
    commit = commit.decode().strip()
    excludes = [f":(exclude){path}" for path in own]
    changed = _git(root, "status", "--porcelain=v1", "-z", "--untracked-files=all", "--", ".", *excludes)
    paths = _changed_paths((changed or b"").decode("utf-8", "surrogateescape"))
    return f"{commit}+{_digest(root, paths)}" if paths else commit


def of_project(project: Project) -> str:
    """The project's source state now, leaving out what the harness writes there (the layout's paths)."""
    return source_state(project.root, own=(project.reports_dir, *layout.own_files(project)))


def _changed_paths(porcelain: str) -> list[str]:
    """The paths `git status --porcelain -z` names: `XY path`, and a rename's or copy's old path after it."""
    entries, paths = iter(porcelain.split("\0")), set()
    for entry in entries:
        if not entry:
            continue
        paths.add(entry[3:])
        if entry[0] in "RC":
            paths.add(next(entries, ""))
    return sorted(path for path in paths if path)


def _git(root: Path, *args: str) -> bytes | None:
    try:
        out = subprocess.run(["git", *args], cwd=root, capture_output=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout if out.returncode == 0 else None


def _digest(root: Path, paths: Sequence[str]) -> str:
    """A digest of each path and its content (a deleted file counts as deleted)."""
    digest = hashlib.sha256()
    for rel in paths:
        path = root / rel
        try:
            content = path.read_bytes() if path.is_file() else b"\0deleted"
        except OSError:
            content = b"\0unreadable"
        digest.update(rel.encode("utf-8", "surrogateescape") + b"\0" + hashlib.sha256(content).digest())
    return digest.hexdigest()[:DIGEST_CHARS]


def _walk(root: Path, own: Sequence[str]) -> list[str]:
    """Every project file outside the harness's own outputs, caches and virtualenvs."""
    skipped = {path.strip("/") for path in own}
    files = project_files(root, "reports")
    return [rel for rel in files if rel.split("/")[0] not in skipped and rel not in skipped]
