"""pytest's own explanation of a session that did not run its tests through, read from its output."""

import re
import signal
from pathlib import Path

_COLLECTING = re.compile(r"^_+ ERROR collecting (.+?) _+$")
_SECTION = re.compile(r"^(_{3,}|={3,}|!{3,})")
_USAGE = re.compile(r"^\S.*?: error: (.+)$")


def explain(code: int, log_file: Path, start: int, root: Path) -> str | None:
    """One line for exit statuses other than 0 and 1, from the output pytest wrote at `start` onwards."""
    if code in (0, 1):
        return None
    lines = _read(log_file, start)
    text = {2: _interrupted, 3: _internal, 4: _usage, 5: _nothing}.get(code, _other)(lines, code)
    return text.replace(f"{root}/", "")


def _read(log_file: Path, start: int) -> list[str]:
    if not log_file.is_file():
        return []
    with log_file.open("rb") as handle:
        handle.seek(start)
        return [line.rstrip() for line in handle.read().decode("utf-8", "replace").splitlines()]


def _interrupted(lines: list[str], code: int) -> str:
    """Status 2: a collection error (file and exception), else pytest's "Interrupted" line."""
    for i, line in enumerate(lines):
        match = _COLLECTING.match(line)
        if match:
            return f"ERROR collecting {match.group(1)}: {_exception_line(lines[i + 1 :])}"
    for line in lines:
        if "Interrupted:" in line:
            return line.strip("!= ")
    return _first_error(lines) or f"pytest was interrupted (exit status {code})"


def _exception_line(lines: list[str]) -> str:
    """The last `E   ` line of a section: the exception pytest reports."""
    found = ""
    for line in lines:
        if _SECTION.match(line):
            break
        if line.startswith("E "):
            found = line[1:].strip()
    return found or "see pytest.log"


def _internal(lines: list[str], code: int) -> str:
    errors = [
        line.removeprefix("INTERNALERROR>").strip() for line in lines if line.startswith("INTERNALERROR>")
    ]
    errors = [e for e in errors if e]
    return f"INTERNALERROR: {errors[-1]}" if errors else f"pytest internal error (exit status {code})"


def _usage(lines: list[str], code: int) -> str:
    """Status 4: argparse's complaint, `ERROR: not found: ...` with its hint, or the first ERROR line."""
    for line in lines:
        match = _USAGE.match(line)
        if match and not line.startswith("ERROR"):
            return f"pytest usage error: {match.group(1)}"
    for i, line in enumerate(lines):
        if line.startswith("ERROR: not found:"):
            hint = lines[i + 1].strip() if i + 1 < len(lines) and lines[i + 1].startswith("(") else ""
            return f"{line} {hint}".strip()
    first = _first_error(lines)
    if first:
        return first
    tail = [line for line in lines if line.strip()]
    return tail[-1].strip() if tail else f"pytest usage error (exit status {code})"


def _nothing(lines: list[str], code: int) -> str:
    deselected = next((m.group(0) for line in lines if (m := re.search(r"\d+ deselected", line))), None)
    return f"pytest collected no tests ({deselected})" if deselected else "pytest collected no tests"


def _other(lines: list[str], code: int) -> str:
    if code < 0:
        try:
            return f"pytest was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"pytest was killed by signal {-code}"
    return _first_error(lines) or f"pytest exited with status {code}"


def _first_error(lines: list[str]) -> str | None:
    return next((line.strip() for line in lines if line.startswith("ERROR")), None)
