"""What a change touches, from git: the lines added or modified since the merge base of REF and HEAD.

One `git diff` from the merge base to the working tree (committed, staged and unstaged changes alike,
renames followed), plus the untracked files git does not ignore, each line of which is new. Line
numbers are the new side's; a deletion adds no line. Paths are relative to the project root, and only
files under it are seen (git's `--relative`).
"""

import re
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from harness.errors import UsageError

# Tried in order when no REF is given: the remote's default branch, then the usual local names, then
# their remote-tracking twins (a CI checkout of a pull request has `origin/main` but no `main`).
DEFAULT_REFS = ("origin/HEAD", "main", "master", "origin/main", "origin/master")
_GIT = ("git", "--no-optional-locks", "-c", "core.quotePath=false", "-c", "diff.noprefix=false")
_DIFF = ("diff", "--no-color", "--no-ext-diff", "--no-textconv", "--unified=0", "--find-renames")
_DIFF_OPTIONS = (*_DIFF, "--ignore-submodules=all", "--relative", "--src-prefix=a/", "--dst-prefix=b/")
_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@")
_ESCAPES = {"a": 7, "b": 8, "t": 9, "n": 10, "v": 11, "f": 12, "r": 13, '"': 34, "\\": 92}
BINARY_PROBE = 8000  # bytes git reads to tell a binary file (a NUL among them)


@dataclass(frozen=True)
class ChangedFile:
    """A file of the working tree that differs from the merge base, and its new or modified lines."""

    path: str
    lines: tuple[int, ...] = ()
    status: str = "modified"  # added | modified | renamed | untracked
    old_path: str | None = None  # the path at the merge base, for a rename
    binary: bool = False


@dataclass(frozen=True)
class Changes:
    """Everything a change touches: the base it is measured from, and every file it adds, edits or deletes."""

    ref: str  # as given (or the default found)
    base: str  # the merge base of `ref` and HEAD (a commit id)
    head: str  # HEAD's commit id; the working tree may differ from it (`uncommitted`)
    files: tuple[ChangedFile, ...] = ()
    deleted: tuple[str, ...] = ()
    uncommitted: bool = False

    def file(self, path: str) -> ChangedFile | None:
        return next((f for f in self.files if f.path == path), None)

    def lines(self, path: str) -> tuple[int, ...]:
        """The new or modified lines of `path`; () for a file the change does not touch."""
        found = self.file(path)
        return found.lines if found else ()

    def within(self, paths: Iterable[str]) -> "Changes":
        """The same change restricted to `paths` (e.g. the files a module measures)."""
        keep = set(paths)
        files = tuple(f for f in self.files if f.path in keep)
        return replace(self, files=files, deleted=tuple(d for d in self.deleted if d in keep))

    @property
    def binary(self) -> tuple[str, ...]:
        return tuple(f.path for f in self.files if f.binary)


def changes(
    root: Path, ref: str | None = None, untracked: bool = True, leave_out: Iterable[str] = ()
) -> Changes:
    """The change in the working tree at `root` since the merge base of `ref` (default: the main
    branch, `DEFAULT_REFS`) and HEAD. Raises UsageError (one line) for a REF that does not resolve.

    `leave_out`: files and directories (relative to `root`) that are no part of any change, such as
    what the harness itself writes (reports, the trace, MAP.md); the working tree counts as
    `uncommitted` only for differences outside them."""
    top = _git(root, "rev-parse", "--show-toplevel", fail=None)
    if top is None:
        raise UsageError(f"--changed: {root} is not in a git repository")
    name = ref if ref is not None else default_ref(root)
    if name.startswith("-") or not name.strip():
        raise UsageError(f"--changed {name!r}: not a branch, tag or commit")
    if _git(root, "rev-parse", "--verify", "--quiet", f"{name}^{{commit}}", fail=None) is None:
        raise UsageError(f"--changed {name}: no such branch, tag or commit in {top}")
    head = _git(root, "rev-parse", "--verify", "--quiet", "HEAD^{commit}", fail=None)
    if head is None:
        raise UsageError("--changed: HEAD has no commit yet")
    base = _git(root, "merge-base", name, "HEAD", fail=None)
    if base is None:
        raise UsageError(
            f"--changed {name}: no common ancestor with HEAD (a shallow clone? fetch with fetch-depth: 0)"
        )
    where = (".", *(f":(exclude){path}" for path in leave_out))
    files, deleted = parse_diff(_git(root, *_DIFF_OPTIONS, base, "--", *where))
    if untracked:
        files += [_untracked(root, path) for path in _untracked_paths(root, where)]
    dirty = _git(root, "diff", "--quiet", "--relative", "HEAD", "--", *where, fail=None) is None
    dirty = dirty or any(f.status == "untracked" for f in files)
    ordered = tuple(sorted(files, key=lambda f: f.path))
    return Changes(name, base, head, ordered, tuple(sorted(deleted)), dirty)


def default_ref(root: Path) -> str:
    """The first of DEFAULT_REFS that names a commit here (origin/HEAD as the branch it points to)."""
    for name in DEFAULT_REFS:
        if _git(root, "rev-parse", "--verify", "--quiet", f"{name}^{{commit}}", fail=None) is None:
            continue
        if name == "origin/HEAD":
            target = _git(root, "symbolic-ref", "--quiet", "--short", "refs/remotes/origin/HEAD", fail=None)
            return target or name
        return name
    tried = ", ".join(DEFAULT_REFS)
    raise UsageError(f"--changed: none of {tried} exists here; name the base: --changed REF")


def parse_diff(text: str) -> tuple[list[ChangedFile], list[str]]:
    """Files and their new-side line numbers from `git diff --unified=0` output; the deleted paths apart."""
    files: list[ChangedFile] = []
    deleted: list[str] = []
    for section in re.split(r"^(?=diff --git )", text, flags=re.MULTILINE):
        if not section.startswith("diff --git "):
            continue
        found = _section(section.splitlines())
        if isinstance(found, str):
            deleted.append(found)
        elif found is not None:
            files.append(found)
    return files, deleted


def _section(lines: list[str]) -> ChangedFile | str | None:
    """One file's part of the diff: a ChangedFile, or the path of a deleted file."""
    head = dict.fromkeys(("new", "old", "rename_to", "rename_from"))
    numbers: list[int] = []
    status, binary = "modified", False
    for line in lines[1:]:
        if line.startswith("@@"):
            numbers += _hunk_lines(line)
        elif line.startswith("+++ "):
            head["new"] = _header_path(line[4:], "b/")
        elif line.startswith("--- "):
            head["old"] = _header_path(line[4:], "a/")
        elif line.startswith("rename to "):
            head["rename_to"] = unquote(line[len("rename to ") :])
        elif line.startswith("rename from "):
            head["rename_from"] = unquote(line[len("rename from ") :])
        elif line.startswith("new file mode"):
            status = "added"
        elif line.startswith("deleted file mode"):
            status = "deleted"
        elif line.startswith("Binary files ") or line == "GIT binary patch":
            binary = True
    same = _same_paths(lines[0][len("diff --git ") :])
    if status == "deleted":
        return head["old"] or head["rename_from"] or same
    path = head["rename_to"] or head["new"] or same
    if path is None:
        return None
    old = head["rename_from"]
    if old is not None and status == "modified":
        status = "renamed"
    return ChangedFile(path, tuple(sorted(set(numbers))), status, old, binary)


def _hunk_lines(header: str) -> list[int]:
    """The new-side lines of one `--unified=0` hunk: `+start,count` (count 0 for a pure deletion)."""
    match = _HUNK.match(header)
    if not match:
        return []
    start, count = int(match[1]), int(match[2]) if match[2] is not None else 1
    return list(range(start, start + count))


def _header_path(text: str, prefix: str) -> str | None:
    """The path of a `---` / `+++` line; None for /dev/null. Git ends a name holding a space with a tab."""
    text = unquote(text.rstrip("\t") if text.endswith("\t") else text)
    if text == "/dev/null":
        return None
    return text.removeprefix(prefix)


def _same_paths(text: str) -> str | None:
    """The path of `a/P b/P` (or their quoted forms) when both sides name the same file; else None."""
    if text.startswith('"'):
        parts = re.findall(r'"(?:[^"\\]|\\.)*"', text)
        names = [unquote(p) for p in parts]
        if len(names) == 2 and names[0][2:] == names[1][2:]:
            return names[1][2:]
        return None
    size = (len(text) - len("a/ b/")) // 2
    name = text[2 : 2 + size]
    return name if text == f"a/{name} b/{name}" else None


def unquote(text: str) -> str:
    """A path as git prints it: C-style quoted (`"a\\tb"`, octal bytes) when it holds unusual characters."""
    if not (len(text) >= 2 and text.startswith('"') and text.endswith('"')):
        return text
    out, body, i = bytearray(), text[1:-1], 0
    while i < len(body):
        char = body[i]
        if char != "\\":
            out += char.encode("utf-8", "surrogateescape")
            i += 1
        elif body[i + 1 : i + 2] in _ESCAPES:
            out.append(_ESCAPES[body[i + 1]])
            i += 2
        else:
            out.append(int(body[i + 1 : i + 4], 8))
            i += 4
    return out.decode("utf-8", "surrogateescape")


def _untracked_paths(root: Path, where: tuple[str, ...]) -> list[str]:
    out = _git(root, "ls-files", "-z", "--others", "--exclude-standard", "--", *where)
    return [name for name in out.split("\0") if name]


def _untracked(root: Path, path: str) -> ChangedFile:
    """An untracked file: every line is new (none for a binary file)."""
    try:
        data = (root / path).read_bytes()
    except OSError:
        data = b""
    if b"\0" in data[:BINARY_PROBE]:
        return ChangedFile(path, (), "untracked", binary=True)
    count = data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)
    return ChangedFile(path, tuple(range(1, count + 1)), "untracked")


def _git(root: Path, *args: str, fail: str | None = "raise") -> str | None:
    """git's output (stripped of one trailing newline); on failure, a UsageError or `fail` (None)."""
    try:
        done = subprocess.run([*_GIT, *args], cwd=root, capture_output=True, timeout=120)
    except FileNotFoundError as err:
        raise UsageError("--changed needs git, which is not on PATH") from err
    except subprocess.TimeoutExpired as err:
        raise UsageError(f"--changed: git {args[0]} took more than 120 s in {root}") from err
    if done.returncode != 0:
        if fail is None:
            return None
        problem = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise UsageError(f"--changed: git {args[0]} failed: {problem[0] if problem else done.returncode}")
    text = done.stdout.decode("utf-8", "surrogateescape")
    return text[:-1] if text.endswith("\n") and args[0] != "diff" else text
