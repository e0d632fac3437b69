"""The test records the harness's pytest plugin writes (`harness.run.plugin.Recorder`): one JSON object a
line, read here as they are written (the progress display tails them) and once the session is over."""

import json
from pathlib import Path

from harness.errors import DataError


def iter_records(path: Path, start: int = 0):
    """`(end offset, record)` for each complete JSON line from byte `start`; a half-written line waits."""
    if not path.is_file():
        return
    with path.open("rb") as handle:
        handle.seek(start)
        offset = start
        for line in handle:
            if not line.endswith(b"\n"):
                return
            offset += len(line)
            try:
                yield offset, json.loads(line)
            except ValueError as err:
                raise DataError(f"{path}: unreadable test record: {err}") from err


XFAIL = "xfail"  # a skipped test's record names an expected failure so: `xfail`, or `xfail: <reason>`


def xfail_message(reason: str) -> str:
    """The message of an expected failure's record (the plugin writes it)."""
    return f"{XFAIL}: {reason}".rstrip(": ")


def is_xfail(message: str) -> bool:
    """Whether a skipped test's message is an expected failure's (`xfail_message`)."""
    return message == XFAIL or message.startswith(f"{XFAIL}: ")
