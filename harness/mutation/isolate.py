"""Private copies of the project tree for mutant runs, and the environment that makes them win imports."""

import os
import shutil
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path


def make_copy(root: Path, files: Iterable[str], dest: Path) -> Path:
    """Copy `files` (relative to `root`) under `dest`; symlinks stay symlinks."""
    for rel in files:
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / rel, target, follow_symlinks=False)
    return dest


def import_roots(measured: Iterable[str], copied: set[str]) -> list[str]:
    """The directories (relative) the measured files import from: the parent of each top package."""
    roots: dict[str, None] = {}
    for rel in measured:
        parent = Path(rel).parent
        while parent != Path(".") and (parent / "__init__.py").as_posix() in copied:
            parent = parent.parent
        roots[parent.as_posix()] = None
    return list(roots)


def environment(copy: Path, roots: list[str]) -> dict[str, str]:
    """os.environ for pytest in `copy`: its import roots first on PYTHONPATH, no bytecode written.

    PYTHONPATH entries precede site-packages, so an editable install of the original tree (a path in a
    .pth file, or setuptools' finder appended to sys.meta_path) cannot shadow the copy. Bytecode is
    off because pyc files are checked by mtime and size: two mutants of equal size written within one
    second would otherwise run the older one's bytecode.
    """
    paths = [str(copy / r) if r != "." else str(copy) for r in roots]
    if (copy / "src").is_dir():
        paths.append(str(copy / "src"))
    old = os.environ.get("PYTHONPATH")
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([*dict.fromkeys(paths), *([old] if old else [])]),
        "PYTHONDONTWRITEBYTECODE": "1",
    }


class Workspace:
    """A temporary directory holding one copy of the tree per worker; removed on exit, however it ends."""

    def __init__(self, root: Path, files: list[str], workers: int):
        self.root, self.files, self.workers = root, files, workers
        self.base = Path(tempfile.mkdtemp(prefix="harness-mutate-"))
        self.copies: list[Path] = []

    def __enter__(self) -> "Workspace":
        try:
            for number in range(1, self.workers + 1):
                self.copies.append(make_copy(self.root, self.files, self.base / f"worker-{number}" / "tree"))
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        for _ in range(3):  # a killed process group may still be dying, and writing, for a moment
            shutil.rmtree(self.base, ignore_errors=True)
            if not self.base.exists():
                return
            time.sleep(0.1)

    def work(self, number: int) -> Path:
        """A scratch directory beside worker `number`'s copy (logs, coverage data)."""
        return self.base / f"worker-{number}"
