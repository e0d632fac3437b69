"""Which tests a change affects: from the record of which test ran which line (`per_test.Record`).

The change is measured against the source state the record was made from, not against a git REF:
every project file whose content differs from the record's. A changed function body selects the tests
that ran a line of that body in the recorded run; a changed or new test file runs whole; the tests that
failed in the record always run again. Whenever the record cannot answer for a change, every test runs
and the reason is said in one line: no record, a record without its source state, another spec, a
changed conftest.py or configuration file, module-level code (it runs at import, for every test), a
function that ran at import, a new, deleted or unparsable source file, a Python file the tests import
that is not measured line by line, a file the tests opened, a file added to or removed from a directory
they listed, or a changed file beside the measured code or the suites (a file they may read).
"""

import fnmatch
import posixpath
from collections.abc import Callable
from dataclasses import dataclass

from harness.errors import DataError
from harness.measure import per_test
from harness.measure.per_test import Record
from harness.measure.source_diff import compare
from harness.spec.project import Project

CONFIG = (
    "conftest.py",
    "pyproject.toml",
    "setup.cfg",
    "setup.py",
    "tox.ini",
    "pytest.ini",
    ".coveragerc",
    "sitecustomize.py",
    "usercustomize.py",
    "requirements*.txt",
    "constraints*.txt",
    "*.lock",
    "Pipfile",
    ".python-version",
    "*.pth",
)
TEST_FILES = ("test_*.py", "*_test.py")  # pytest's default python_files
COLLECTION = " (collection)"  # a failed record's suffix for a file that did not collect
IMPORT_TIME = ""  # the node id of lines run outside any test (as `harness mutate` names it)


@dataclass(frozen=True)
class Selection:
    """The tests to run for a change: node ids and whole test files, or every test (`tests` None)."""

    tests: frozenset[str] | None
    files: tuple[str, ...]
    reason: str  # one line: why every test runs, or what was chosen
    total: int  # tests in the record (0 without one)

    @property
    def everything(self) -> bool:
        return self.tests is None

    def to_json(self) -> dict:
        """What the session plugin reads from `$HARNESS_SELECT` (`harness.run.plugin.selected`)."""
        return {"tests": sorted(self.tests or ()), "files": list(self.files)}


def select(project: Project, module_id: str, spec_digest: str, measured: list[str]) -> Selection:
    """The tests the working tree's changes affect, from the module's record (`spec_digest`: the
    spec's as it is now; `measured`: the files the module measures now, as `check_spec` lists them)."""
    record, why = per_test.read_record(project, module_id)
    if record is None:
        return _every(why, 0)

    def text(rel: str) -> str:
        return (project.root / rel).read_bytes().decode("utf-8", "surrogateescape")

    return choose(record, spec_digest, per_test.digests(project), measured, text)


def choose(
    record: Record, spec: str, current: dict[str, str], measured: list[str], text: Callable[[str], str]
) -> Selection:
    """The selection for the tree whose files have the blob ids `current` (`text(path)` reads one)."""
    total = len(record.tests)
    if spec != record.spec:
        return _every("the module's spec changed since the record was made", total)
    changed = sorted(p for p in set(record.files) | set(current) if record.files.get(p) != current.get(p))
    sorter = _Sorter(record, set(measured), current)
    reasons = [r for r in map(sorter.reason, changed) if r]
    if reasons:
        more = f" (and {len(reasons) - 1} more)" if len(reasons) > 1 else ""
        return _every(reasons[0] + more, total)
    sources = [p for p in changed if p in record.sources]
    try:
        tests, functions = _function_tests(record, sources, text)
    except _Everything as err:
        return _every(str(err), total)
    files = tuple(p for p in changed if sorter.is_test_file(p) and p in current)
    files += tuple(
        sorted({t.removesuffix(" (collection)") for t in record.failed if t.endswith(" (collection)")})
    )
    tests |= {t for t in record.failed if not t.endswith(" (collection)")}
    reason = (
        f"{len(tests)} of {total} recorded tests (those that ran the {functions} changed function(s) and"
        f" the {len(record.failed)} that failed), and {len(files)} changed or new test file(s)"
    )
    return Selection(frozenset(tests), tuple(dict.fromkeys(files)), reason, total)


def _every(reason: str, total: int) -> Selection:
    return Selection(None, (), reason, total)


class _Everything(Exception):
    """A change the record cannot answer for: every test runs (the message says why)."""


def _function_tests(record: Record, sources: list[str], text) -> tuple[set[str], int]:
    """The tests that ran a line of a changed function body, and how many functions changed."""
    diffs = {}
    for path in sources:
        try:
            diffs[path] = compare(record.sources[path], text(path))
        except (SyntaxError, ValueError) as err:
            raise _Everything(f"{path} does not parse ({type(err).__name__})") from err
        if diffs[path].module_line is not None:
            line = diffs[path].module_line
            raise _Everything(f"{path}:{line}: module-level code changed (it runs at import, for every test)")
    wanted = [p for p, d in diffs.items() if d.functions]
    try:
        lines = record.lines(wanted) if wanted else {}
    except DataError as err:
        raise _Everything(f"the record's coverage data cannot be read here: {err}") from err
    tests: set[str] = set()
    for path in wanted:
        by_line = lines.get(path, {})
        for function in diffs[path].functions:
            ran = {t for n in range(function.first, function.last + 1) for t in by_line.get(n, ())}
            if IMPORT_TIME in ran:
                raise _Everything(
                    f"{path}: {function.name} ran at import in the recorded run (for every test)"
                )
            tests |= ran
    return tests, sum(len(diffs[p].functions) for p in wanted)


def _parent(path: str) -> str:
    return posixpath.dirname(path) or "."


def _beside(path: str, directory: str) -> bool:
    """Whether `path` lies in `directory`'s tree (for the root, directly in it: not the whole project)."""
    return _parent(path) == "." if directory == "." else path.startswith(f"{directory}/") or path == directory


class _Sorter:
    """Tells, for one changed path, whether the record can answer for it (None) or why not."""

    def __init__(self, record: Record, measured: set[str], current: dict[str, str]):
        self.record, self.measured, self.current = record, measured, current
        self.test_files = {t.split("::")[0].removesuffix(COLLECTION) for t in record.tests}
        code = {_parent(p) for p in measured | set(record.sources)}
        self.near = code | {s.rstrip("/") for s in record.suites}

    def reason(self, path: str) -> str | None:
        name = posixpath.basename(path)
        record, added, deleted = self.record, path not in self.record.files, path not in self.current
        if any(fnmatch.fnmatchcase(name, pattern) for pattern in CONFIG):
            return f"{path} changed (configuration or a conftest.py)"
        if path in self.measured or path in record.sources:
            return self._source(path, added, deleted)
        if self.is_test_file(path):
            return None
        if path in record.imported:
            return f"{path} changed: the tests import it and it is not measured line by line"
        if path in record.opened:
            return f"{path} changed: the tests read it"
        if (added or deleted) and _parent(path) in record.listed:
            return f"{path} was {'added to' if added else 'removed from'} a directory the tests list"
        if not path.endswith(".py") and any(_beside(path, d) for d in self.near):
            return f"{path} changed beside the measured code or the suites (the tests may read it)"
        return None

    def _source(self, path: str, added: bool, deleted: bool) -> str | None:
        if deleted:
            return f"{path} was deleted"
        if path not in self.record.sources:
            return (
                f"{path} is a new source file" if added else f"{path} changed and the record does not know it"
            )
        return None

    def is_test_file(self, path: str) -> bool:
        if path in self.test_files:
            return True
        under = any(path == s or path.startswith(f"{s.rstrip('/')}/") for s in self.record.suites)
        return under and any(fnmatch.fnmatchcase(posixpath.basename(path), p) for p in TEST_FILES)
