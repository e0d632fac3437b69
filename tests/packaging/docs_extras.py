"""What the README and docs tell users to install, read from their text, for checks against the package.

Every `harness[...]` they name must be an extra of the package, and each `pip install` line of the
README's "Installing" block, `pip install 'harness[X]'  # what it adds: a, b, c`, must list exactly the
distributions extra X requires (the plain `pip install harness` line: the package's own).
"""

from __future__ import annotations

import re
from pathlib import Path

_EXTRAS = re.compile(r"harness\[([^\]]*)\]|`([\w-]+)` extra\b")
_INSTALL = re.compile(r"^pip install (?:harness|'harness\[(?P<extra>[\w-]+)\]')\s+#[^:]*:\s*(?P<names>.+)$")


def pages(repo: Path) -> list[Path]:
    """The README and every page under docs/ (the examples' own READMEs included)."""
    return [repo / "README.md", *sorted((repo / "docs").rglob("*.md"))]


def named_extras(repo: Path) -> dict[str, list[str]]:
    """Each extra the pages name (`harness[...]`, "the `charts` extra"), with where: `README.md:12`."""
    found: dict[str, list[str]] = {}
    for page in pages(repo):
        for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1):
            for bracketed, named in _EXTRAS.findall(line):
                for extra in (bracketed or named).split(","):
                    found.setdefault(extra.strip(), []).append(f"{page.relative_to(repo)}:{number}")
    return found


def install_lines(repo: Path) -> dict[str | None, set[str]]:
    """The README's install lines: extra (None: the plain install) -> the distributions it says it adds."""
    promised: dict[str | None, set[str]] = {}
    for line in (repo / "README.md").read_text(encoding="utf-8").splitlines():
        match = _INSTALL.match(line)
        if match:
            promised[match["extra"]] = {normalise(name) for name in match["names"].split(",")}
    return promised


def normalise(name: str) -> str:
    """A distribution's name as a requirement or a page writes it, compared the PEP 503 way."""
    bare = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", name)
    return re.sub(r"[-_.]+", "-", bare.group(1)).lower() if bare else name.strip().lower()
