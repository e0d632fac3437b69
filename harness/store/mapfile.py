"""MAP.md: the harness's one marked block in it, replaced whole; every byte outside the markers kept."""

from collections.abc import Callable

from harness.errors import DataError
from harness.spec.project import Project
from harness.store import disk, layout

BEGIN, END = "<!-- harness:begin -->", "<!-- harness:end -->"


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


def update(project: Project, render_block: Callable[[], str]) -> None:
    """Re-render MAP.md's harness block under the lock; `render_block()` is called while it is held."""
    path = layout.map_file(project)
    with disk.locked(project):
        raw = path.read_bytes() if path.is_file() else b""
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as err:
            raise DataError(f"{path}: not UTF-8 text") from err
        disk.atomic_write(path, splice_block(text, render_block(), str(path)).encode("utf-8"))
