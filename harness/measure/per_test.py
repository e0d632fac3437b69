"""The module's own run as the mutation mapping.

`harness run` of a module that gates on mutation scores labels each test's lines with its node id
(`harness.run.plugin.StepContexts`) and keeps the coverage data, with each test's duration and
outcome and the session's start-up, under `reports/<id>/.work/`. `harness mutate` then takes which
tests ran which line from it instead of running the suites once more under coverage — as long as the
project's files are as they were when that run started (their paths, sizes and modification times).

Only a whole-module run with no extra pytest arguments is kept: a step, a shard or `-- -k …` ran a
part of the tests, and a mutant must be given every test that ran its lines.

The same record tells `harness run --changed` which tests a change affects (`harness.measure.affected`),
on this machine or on another one (CI restores the record made on the main branch): besides the
contexts it holds the source state it was made from — every project file's git blob id and the text
of each measured file — the project files the session imported and opened and the directories it
listed, the suite paths and the spec's digest (`Record`).
"""

import hashlib
import json
import os
import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from harness.errors import DataError, HarnessError
from harness.measure.outcomes import Outcomes
from harness.mutation.selection import LineTests, read_contexts
from harness.run.env import READS_DIR
from harness.spec.model import ModuleSpec
from harness.spec.project import Project

DATA, META = "test-contexts.coverage", "test-contexts.json"
VERSION = 2  # 2: the record holds its source state (files, sources, reads); 1 had contexts only
EXIT_SECONDS = 1.0  # added to a session's start-up for pytest's report and exit (the mapping run's measure)


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
    """A digest of the project's files (path, size, modification time) that mutants are made from and
    tests run in, leaving out what the harness itself writes (reports, the trace, MAP.md)."""
    from harness.mutation.isolate import project_files

    own = {project.trace_file, project.map_file}
    digest = hashlib.sha256()
    for rel in project_files(project.root, project.reports_dir):
        if rel in own:
            continue
        try:
            info = (project.root / rel).stat()
        except OSError:
            continue
        digest.update(f"{rel}\0{info.st_size}\0{info.st_mtime_ns}\n".encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


def keep(project: Project, spec: ModuleSpec, data_file: Path, outcomes: Outcomes, stamp: str) -> bool:
    """Keep the run's per-test contexts for `harness mutate` if the tree is still as it was when the
    run started (`stamp`); otherwise drop what an earlier run kept. Written atomically; a failure to
    write (a full disk) only loses the shortcut, never the run."""
    work = project.module_dir(spec.id) / ".work"
    data, meta = work / DATA, work / META
    partials = [
        data.with_name(f".{DATA}.{os.getpid()}.partial"),
        meta.with_name(f".{META}.{os.getpid()}.partial"),
    ]
    try:
        meta.unlink(missing_ok=True)  # never a new description of old data, or the other way round
        if not data_file.is_file() or tree_stamp(project) != stamp:
            data.unlink(missing_ok=True)
            return False
        work.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(data_file, partials[0])
        os.replace(partials[0], data)
        doc = {
            "tree": stamp,
            "durations": outcomes.durations,
            "failed": sorted(outcomes.failed()),
            "startup": outcomes.startup,
            **source_state(project, spec, data_file.parent / READS_DIR),
        }
        partials[1].write_text(json.dumps(doc), encoding="utf-8")
        os.replace(partials[1], meta)
        return True
    except OSError:
        for partial in partials:
            partial.unlink(missing_ok=True)
        return False


def load(project: Project, spec: ModuleSpec, files: list[str]) -> LineTests | None:
    """Which tests ran which lines of `files`, from the last kept run, or None: none kept, the
    project's files changed since, or what was kept cannot be read (a mapping run then does)."""
    from coverage.exceptions import CoverageException

    work = project.module_dir(spec.id) / ".work"
    try:
        doc = json.loads((work / META).read_text(encoding="utf-8"))
        if doc.get("tree") != tree_stamp(project) or not (work / DATA).is_file():
            return None
        failed = set(doc["failed"])
        usable = {test: float(s) for test, s in doc["durations"].items() if test not in failed}
        startup = float(doc["startup"])
        lines = read_contexts(work / DATA, project.root, files, failed)
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
    return LineTests(lines, usable, startup + EXIT_SECONDS)


def blob_id(data: bytes) -> str:
    """git's id of a file's content (`git hash-object`): a digest any checkout can compare."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


def digests(project: Project) -> dict[str, str]:
    """Every project file a run may depend on (as `tree_stamp` lists them), by path: its blob id."""
    from harness.mutation.isolate import project_files

    own = {project.trace_file, project.map_file}
    found = {}
    for rel in project_files(project.root, project.reports_dir):
        if rel in own:
            continue
        try:
            found[rel] = blob_id((project.root / rel).read_bytes())
        except OSError:
            continue
    return found


def source_state(project: Project, spec: ModuleSpec, reads: Path) -> dict:
    """What the record adds for `harness run --changed`: the state its tests ran on and read."""
    from harness.spec.preflight import check_spec

    try:
        measured = check_spec(project, spec)
    except HarnessError:
        measured = []
    files = digests(project)
    sources = {}
    for rel in measured:
        if rel in files and rel.endswith(".py"):
            sources[rel] = (project.root / rel).read_bytes().decode("utf-8", "surrogateescape")
    return {
        "version": VERSION,
        "root": str(project.root),
        "spec": spec.path.digest(),
        "suites": sorted({suite.path for suite in spec.all_suites()}),
        "files": files,
        "sources": sources,
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
    with `lines`), every test with its outcome, and the source state it ran on."""

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

    def lines(self, files: list[str]) -> dict[str, dict[int, frozenset[str]]]:
        """{file: {line: node ids}} for `files`, every test counted (failed ones too); the empty
        node id is the lines run outside any test (imports, collection)."""
        return read_contexts(self.data, self.root, files, set())


def read_record(project: Project, spec: ModuleSpec) -> tuple[Record | None, str]:
    """The module's kept record, or None and why it cannot be used (in a few words)."""
    work = project.module_dir(spec.id) / ".work"
    if not (work / META).is_file() or not (work / DATA).is_file():
        return None, "no record of which test ran which line yet (a whole `harness run` keeps one)"
    try:
        doc = json.loads((work / META).read_text(encoding="utf-8"))
        if doc.get("version", 1) < VERSION:
            return None, "the record does not hold the source it was made from (made by an older harness)"
        tests = frozenset(doc["durations"]) | frozenset(doc["failed"])
        return Record(
            data=work / DATA,
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
        ), ""
    except (OSError, ValueError, KeyError, TypeError) as err:
        return None, f"the record cannot be read ({type(err).__name__}: {err})"
