"""The one writer: atomic file replacement, appends, the project lock, and reading stored JSON.

Every file the harness keeps is written by a function here: to a temporary file beside it, flushed and
fsynced, then renamed over the old one, so a reader or a killed run sees the old file or the new one,
never half of one. Read-modify-write of shared files happens inside `locked(project)`, which is
reentrant: a command that holds it may call code that takes it again.
"""

import contextlib
import datetime as dt
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import filelock

from harness.errors import DataError
from harness.spec.project import Project
from harness.store import layout

LOCK_TIMEOUT = 120


def atomic_write(path: Path, data: str | bytes) -> None:
    """Write `data` to a temp file beside `path`, fsync it, then os.replace: old or new, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(raw)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, _mode_for(path))
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_json(path: Path, data, indent: int | None = 2) -> None:
    """`data` as JSON (UTF-8, a final newline), atomically."""
    atomic_write(path, json.dumps(data, indent=indent, ensure_ascii=False) + "\n")


def copy_file(source: Path, dest: Path) -> None:
    """Copy a file the run produced into the store, atomically."""
    atomic_write(dest, source.read_bytes())


def append_line(path: Path, line: str) -> None:
    """Append one line and fsync it: a kill loses at most the line being written, never an earlier one
    (and a line a kill cut short is ended first, so the next one stands on a line of its own)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("ab+") as handle:
        cut = False
        if handle.seek(0, os.SEEK_END) > 0:
            handle.seek(-1, os.SEEK_END)
            cut = handle.read(1) != b"\n"
        handle.write((b"\n" if cut else b"") + line.rstrip("\n").encode("utf-8") + b"\n")
        handle.flush()
        os.fsync(handle.fileno())


def append_text(path: Path, text: str) -> None:
    """Append to a file the harness does not own (a CI job's step summary)."""
    with path.open("a", encoding="utf-8") as handle:
        handle.write(text)


def _mode_for(path: Path) -> int:
    """Keep an existing file's mode; new files get the usual umask-based one, not mkstemp's 0600."""
    try:
        return path.stat().st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def replace_dir(src: Path, dest: Path) -> None:
    """Move the finished directory `src` to `dest`, dropping the old one only afterwards."""
    old = dest.with_name(f".{dest.name}.old")
    if old.exists():
        shutil.rmtree(old)
    if dest.exists():
        os.replace(dest, old)
    dest.parent.mkdir(parents=True, exist_ok=True)
    os.replace(src, dest)
    shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def new_dir(dest: Path) -> Iterator[Path]:
    """A fresh directory beside `dest` to fill, swapped in for `dest` whole when the block ends (and
    removed if it fails): a reader sees the old directory or the new one, never one half written."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent))
    try:
        yield staging
        replace_dir(staging, dest)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def remove(path: Path) -> None:
    """Remove a stored file or directory if it is there (an output that no longer applies)."""
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


@contextlib.contextmanager
def locked(project: Project) -> Iterator[None]:
    """Hold the project's lock: every read-modify-write of what other commands also write happens here.

    One lock object per lock file and process (filelock's singletons), counted per thread: a thread that
    holds it can take it again; another thread or process waits (up to LOCK_TIMEOUT seconds).
    """
    path = layout.lock(project)
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = filelock.FileLock(str(path), timeout=LOCK_TIMEOUT, is_singleton=True)
    try:
        with lock:
            yield
    except filelock.Timeout as err:
        raise DataError(f"{path}: another harness command held the lock for {LOCK_TIMEOUT} s") from err


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def read_json(path: Path, what: str) -> dict:
    """A JSON object the harness stored, or a DataError saying which file is missing or broken."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise DataError(f"{path}: no stored {what}") from err
    except (OSError, ValueError) as err:
        raise DataError(f"{path}: unreadable {what}: {err}") from err
    if not isinstance(data, dict):
        raise DataError(f"{path}: not a harness {what}")
    return data


def read_json_if_any(path: Path, what: str) -> dict | None:
    """Like `read_json`, but None when there is no file."""
    return read_json(path, what) if path.is_file() else None
