"""The per-test record: which test ran which line, kept by `harness run` for `harness mutate` and for
`harness run --changed`.

`harness run` of a module that gates on mutation scores (or asks for the record: `record_tests: true`,
a `patch:` key) labels each test's lines with its node id (`harness.run.plugin.StepContexts`) and
keeps the coverage data, with each test's duration and outcome and the session's start-up, under
`reports/<id>/.work/`. `harness mutate` then takes which tests ran which line from it instead of
running the suites once more under coverage — as long as the project's files are as they were when
that run started (their paths, sizes and modification times).

Only a whole-module run with no extra pytest arguments is kept: a step, a shard or `-- -k …` ran a
part of the tests, and a mutant must be given every test that ran its lines.

The same record tells `harness run --changed` which tests a change affects (`harness.measure.affected`),
on this machine or on another one (CI restores the record made on the main branch): besides the
contexts it holds the source state it was made from — every project file's git blob id and the text
of each measured file — the project files the session imported and opened and the directories it
listed, the suite paths, the spec's digest and the run's per-file figures (`Record`).

A run of the affected tests only (`--changed`) never replaces the record: its own contexts are kept
apart (`keep(..., selected=True)`), for `harness mutate --changed` on the same tree.
"""

import hashlib
import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from harness.errors import DataError
from harness.measure.outcomes import Outcomes
from harness.run.env import READS_DIR, STEP_CONTEXT
from harness.spec import tree
from harness.spec.model import ModuleSpec
from harness.spec.preflight import check_spec
from harness.spec.project import Project
from harness.store import disk, layout

VERSION = 2  # 2: the record holds its source state (files, sources, reads, figures); 1 had contexts only
EXIT_SECONDS = 1.0  # added to a session's start-up for pytest's report and exit (the mapping run's measure)


class Kept(NamedTuple):
    """Per measured file, per line, the node ids that ran it; the duration of every test that passed;
    and the seconds a session takes beyond its tests."""

    lines: dict[str, dict[int, frozenset[str]]]
    durations: dict[str, float]
    overhead: float


@dataclass(frozen=True)
class Origin:
    """What a whole run's record adds for `harness run --changed`, from the caller: the files the module
    measures (as `check_spec` lists them), the spec's digest, the suite paths and the run's per-file
    figures (`coverage.file_figures`, carried for the files a selected run does not run)."""

    measured: tuple[str, ...]
    spec: str
    suites: tuple[str, ...]
    figures: dict[str, dict] = field(default_factory=dict)

    @classmethod
    def of_run(cls, project: Project, spec: ModuleSpec, figures: dict[str, dict]) -> "Origin":
        """A whole run's: the spec's measured files, digest and suite paths, and the run's figures."""
        suites = tuple(dict.fromkeys(suite.path for suite in spec.all_suites()))
        return cls(tuple(check_spec(project, spec)), spec.path.digest(), suites, figures)


def wanted(spec: ModuleSpec, step: int | None, shard, pytest_args: tuple[str, ...]) -> bool:
    """Whether this run records and keeps per-test contexts: a whole-module run of a module with a
    `mutation:` target, `patch:` targets or `record_tests: true`, without extra pytest arguments."""
    if step is not None or shard or pytest_args:
        return False
    if spec.record_tests or spec.patch is not None:
        return True
    rules = [*spec.targets, *(target for s in spec.steps for target in s.targets), spec.overall]
    return any(getattr(rule, "mutation", None) is not None for rule in rules)


def tree_stamp(project: Project) -> str:
    """A digest of the project's files that mutants are made from and tests run in, leaving out what the
    harness itself writes (reports, the trace, MAP.md)."""
    return tree.fingerprint(project, layout.own_files(project))


def _paths(project: Project, module_id: str, selected: bool) -> tuple[Path, Path]:
    at = layout.files(project, module_id)
    return (at.selected_data, at.selected_meta) if selected else (at.per_test_data, at.per_test_meta)


def keep(
    project: Project,
    module_id: str,
    data_file: Path,
    outcomes: Outcomes,
    stamp: str,
    origin: Origin | None = None,
    selected: bool = False,
) -> bool:
    """Keep the run's per-test contexts for `harness mutate` if the tree is still as it was when the
    run started (`stamp`); otherwise drop what an earlier run kept. A whole run with an `origin` keeps
    its source state too; a run of the affected tests (`selected`) is kept apart from the whole run's
    record. A failure to write (a full disk) only loses the shortcut, never the run."""
    data, meta_path = _paths(project, module_id, selected)
    try:
        with disk.locked(project):
            disk.remove(meta_path)  # never a new description of old data, or the other way round
            if not data_file.is_file() or tree_stamp(project) != stamp:
                disk.remove(data)
                return False
            disk.copy_file(data_file, data)
            meta = {
                "tree": stamp,
                "durations": outcomes.durations,
                "failed": sorted(outcomes.failed()),
                "startup": outcomes.startup,
            }
            if origin is not None:
                meta.update(source_state(project, origin, data_file.parent / READS_DIR))
            disk.write_json(meta_path, meta, indent=None)
    except OSError:
        return False
    return True


def load(project: Project, module_id: str, files: list[str], selected: bool = False) -> Kept | None:
    """Which tests ran which lines of `files`, from the last kept run (`selected`: the last run of the
    affected tests), or None: none kept, the project's files changed since, or what was kept cannot be
    read (a mapping run then does)."""
    from coverage.exceptions import CoverageException

    data, meta_path = _paths(project, module_id, selected)
    try:
        doc = json.loads(meta_path.read_text(encoding="utf-8"))
        if doc.get("tree") != tree_stamp(project) or not data.is_file():
            return None
        failed = set(doc["failed"])
        usable = {test: float(s) for test, s in doc["durations"].items() if test not in failed}
        startup = float(doc["startup"])
        lines = read_contexts(data, project.root, files, failed)
    except (
        OSError,
        ValueError,
        KeyError,
        TypeError,
        AttributeError,
        DataError,
        CoverageException,
        sqlite3.Error,
    ):
        return None
    return Kept(lines, usable, startup + EXIT_SECONDS)


def on_tree(project: Project, module_id: str) -> bool:
    """Whether the whole run's record was made on the project's files as they are now."""
    try:
        doc = json.loads(layout.files(project, module_id).per_test_meta.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(doc, dict) and doc.get("tree") == tree_stamp(project)


def node_id(context: str) -> str:
    """`suites/test_x.py::test_y|run` -> `suites/test_x.py::test_y` (pytest-cov's --cov-context=test);
    `harness-steps:1,3 suites/test_x.py::test_y` -> the same (a `harness run`'s per-test contexts)."""
    if context.startswith(STEP_CONTEXT):
        return context.partition(" ")[2]
    return context.rpartition("|")[0] if context.endswith(("|setup", "|run", "|teardown")) else context


def read_contexts(data_file: Path, data_root: Path, files: list[str], failed: set[str]) -> dict:
    """{file: {line: node ids}} for `files` (relative to `data_root`) from a coverage data file.

    Tests that failed without any mutant can kill nothing, so they are left out.
    """
    from coverage import CoverageData

    data = CoverageData(basename=str(data_file))
    data.read()
    wanted, lines = set(files), {}
    outside = []
    data_root = data_root.resolve()
    for measured in data.measured_files():
        path = Path(measured).resolve()
        if not path.is_relative_to(data_root):
            outside.append(measured)
            continue
        rel = path.relative_to(data_root).as_posix()
        if rel in wanted:
            lines[rel] = {
                line: frozenset(n for n in map(node_id, contexts) if n not in failed)
                for line, contexts in data.contexts_by_lineno(measured).items()
            }
    if not lines and outside:
        raise DataError(
            f"the tests imported the measured files from {Path(outside[0]).parent}, not from the copy"
            f" at {data_root}; an installed copy of the project shadows it (install it editable)"
        )
    return lines


def blob_id(data: bytes) -> str:
    """git's id of a file's content (`git hash-object`): a digest any checkout can compare."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


def digests(project: Project) -> dict[str, str]:
    """Every project file a run may depend on (as `tree_stamp` lists them), by path: its blob id."""
    own = layout.own_files(project)
    found = {}
    for rel in tree.project_files(project.root, project.reports_dir):
        if rel in own:
            continue
        try:
            found[rel] = blob_id((project.root / rel).read_bytes())
        except OSError:
            continue
    return found


def source_state(project: Project, origin: Origin, reads: Path) -> dict:
    """What the record adds for `harness run --changed`: the state its tests ran on and read."""
    files = digests(project)
    sources = {}
    for rel in origin.measured:
        if rel in files and rel.endswith(".py"):
            sources[rel] = (project.root / rel).read_bytes().decode("utf-8", "surrogateescape")
    return {
        "version": VERSION,
        "root": str(project.root),
        "spec": origin.spec,
        "suites": sorted(origin.suites),
        "files": files,
        "sources": sources,
        "figures": origin.figures,
        **_reads(project.root, reads),
    }


def _reads(root: Path, directory: Path) -> dict[str, list[str]]:
    """The project files every pytest process imported and opened and the directories it listed,
    relative to the root (each process wrote its own file, `harness.run.plugin.Reads`)."""
    found: dict[str, set[str]] = {"imported": set(), "opened": set(), "listed": set()}
    for path in sorted(directory.glob("*.json")) if directory.is_dir() else []:
        doc = json.loads(path.read_text(encoding="utf-8"))
        for key, names in found.items():
            names.update(_under(root, doc.get(key, ())))
    return {key: sorted(names) for key, names in found.items()}


def _under(root: Path, paths) -> list[str]:
    inside = []
    for name in paths:
        path = Path(name)
        if path.is_relative_to(root):
            inside.append(path.relative_to(root).as_posix() or ".")
    return inside


@dataclass(frozen=True)
class Record:
    """A kept whole run, as `harness run --changed` reads it: which test ran which line (`data`, read
    with `lines`), every test with its outcome, the source state it ran on and its per-file figures."""

    data: Path
    root: Path  # where the run ran: the coverage data names files under it
    tests: frozenset[str]
    failed: frozenset[str]
    spec: str
    suites: tuple[str, ...]
    files: dict[str, str]
    sources: dict[str, str]
    imported: frozenset[str]
    opened: frozenset[str]
    listed: frozenset[str]
    figures: dict[str, dict] = field(default_factory=dict)

    def lines(self, files: list[str]) -> dict[str, dict[int, frozenset[str]]]:
        """{file: {line: node ids}} for `files`, every test counted (failed ones too); the empty
        node id is the lines run outside any test (imports, collection)."""
        return read_contexts(self.data, self.root, files, set())


def read_record(project: Project, module_id: str) -> tuple[Record | None, str]:
    """The module's kept record, or None and why it cannot be used (in a few words)."""
    at = layout.files(project, module_id)
    if not at.per_test_meta.is_file() or not at.per_test_data.is_file():
        return None, "no record of which test ran which line yet (a whole `harness run` keeps one)"
    try:
        doc = json.loads(at.per_test_meta.read_text(encoding="utf-8"))
        if doc.get("version", 1) < VERSION:
            return None, "the record does not hold the source it was made from (made by an older harness)"
        tests = frozenset(doc["durations"]) | frozenset(doc["failed"])
        return Record(
            data=at.per_test_data,
            root=Path(doc["root"]),
            tests=tests,
            failed=frozenset(doc["failed"]),
            spec=doc["spec"],
            suites=tuple(doc["suites"]),
            files=dict(doc["files"]),
            sources=dict(doc["sources"]),
            imported=frozenset(doc["imported"]),
            opened=frozenset(doc["opened"]),
            listed=frozenset(doc["listed"]),
            figures=dict(doc.get("figures") or {}),
        ), ""
    except (OSError, ValueError, KeyError, TypeError) as err:
        return None, f"the record cannot be read ({type(err).__name__}: {err})"
