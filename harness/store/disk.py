"""The one place that writes: atomic file replacement, the project lock, trace.yml and the MAP.md block."""

import contextlib
import datetime as dt
import os
import shutil
import tempfile
from pathlib import Path

import filelock
import yaml

from harness.errors import DataError, yaml_problem

BEGIN, END = "<!-- harness:begin -->", "<!-- harness:end -->"
# libyaml's safe loader parses the same YAML as PyYAML's several times faster; the trace grows with
# every run, and every run reads it.
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
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
    os.replace(src, dest)
    shutil.rmtree(old, ignore_errors=True)


def project_lock(lock_path: Path) -> filelock.FileLock:
    """One lock for every read-modify-write of shared files (trace.yml, MAP.md, results)."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    return filelock.FileLock(str(lock_path), timeout=LOCK_TIMEOUT)


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def read_trace(trace_path: Path) -> list[dict]:
    """All events in trace.yml (an empty list when there is no file yet)."""
    if not trace_path.is_file():
        return []
    try:
        events = yaml.load(trace_path.read_text(encoding="utf-8"), Loader=_SAFE_LOADER)
    except yaml.YAMLError as err:
        raise DataError(f"{trace_path}: {yaml_problem(err)}; fix or move it") from err
    if events is None:
        return []
    if not isinstance(events, list):
        raise DataError(f"{trace_path}: expected a YAML list of events")
    return events


def append_events(trace_path: Path, lock_path: Path, events: list[dict], before=None) -> None:
    """Append events to trace.yml under the lock; the file is replaced whole, so it is always valid YAML.

    `before(existing events)`, if given, returns events to append first, decided while the lock is held.
    """
    with project_lock(lock_path):
        old = trace_path.read_bytes() if trace_path.is_file() else b""
        existing = read_trace(trace_path)  # refuse to extend a file that is already broken
        if before is not None:
            events = [*before(existing), *events]
        if old and not old.endswith(b"\n"):
            old += b"\n"
        text = yaml.safe_dump(events, sort_keys=False, allow_unicode=True, default_flow_style=False)
        atomic_write(trace_path, old + text.encode("utf-8"))


def splice_block(text: str, block: str, where: str) -> str:
    """`text` with the harness block replaced (or appended); everything outside the markers kept exactly."""
    begin, end = text.find(BEGIN), text.find(END)
    if text.count(BEGIN) > 1 or text.count(END) > 1 or (begin < 0) != (end < 0) or end < begin:
        raise DataError(f"{where}: expected one '{BEGIN}' followed by one '{END}'; fix the markers by hand")
    inner = f"{BEGIN}\n{block.strip()}\n{END}"
    if begin < 0:
        separator = "" if not text or text.endswith("\n\n") else ("\n" if text.endswith("\n") else "\n\n")
        return f"{text}{separator}{inner}\n"
    return text[:begin] + inner + text[end + len(END) :]


def update_map(map_path: Path, lock_path: Path, render_block) -> None:
    """Re-render MAP.md's harness block under the lock; `render_block()` is called while it is held."""
    with project_lock(lock_path):
        raw = map_path.read_bytes() if map_path.is_file() else b""
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as err:
            raise DataError(f"{map_path}: not UTF-8 text") from err
        atomic_write(map_path, splice_block(text, render_block(), str(map_path)).encode("utf-8"))
