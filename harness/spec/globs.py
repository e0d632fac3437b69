"""Path globs in specs: `*` within one path segment, `**` across segments, case-sensitive everywhere."""

from pathlib import Path

from wcmatch import glob

# GLOBSTAR: `**` spans directories; DOTGLOB: `*` matches `.name` too (coverage.py reports such files);
# FORCEUNIX and CASE: file keys use `/` and compare case-sensitively on every OS, as results.json does.
_FLAGS = glob.GLOBSTAR | glob.DOTGLOB | glob.FORCEUNIX | glob.CASE


def matches(path: str, pattern: str) -> bool:
    """Whether the file key `path` is `pattern` itself or matches it as a glob.

    `*` and `?` never cross `/`; `**` as a whole segment matches zero or more directories, so
    `pkg/**` matches `pkg/a.py` and `pkg/sub/a.py`; `[abc]` is a character class. An exact path
    always matches itself, even when it contains glob characters.
    """
    return path == pattern or glob.globmatch(path, pattern, flags=_FLAGS)


def file_key(root: Path, path: Path) -> str:
    """How coverage.py names `path` in its reports: relative to the root when under it, else absolute."""
    resolved = path.resolve()
    try:
        return resolved.relative_to(root.resolve()).as_posix()
    except ValueError:
        return resolved.as_posix()


def find(root: Path, pattern: str) -> list[Path]:
    """The files under `root` that `pattern` matches, by the same rules as `matches`."""
    found = glob.glob(pattern, root_dir=root, flags=_FLAGS)
    return [root / name for name in found if (root / name).is_file()]
