"""The module's own run as the mutation mapping.

`harness run` of a module that gates on mutation scores labels each test's lines with its node id
(`harness.run.plugin.StepContexts`) and keeps the coverage data, with each test's duration and
outcome and the session's start-up, under `reports/<id>/.work/`. `harness mutate` then takes which
tests ran which line from it instead of running the suites once more under coverage — as long as the
project's files are as they were when that run started (their paths, sizes and modification times).

Only a whole-module run with no extra pytest arguments is kept: a step, a shard or `-- -k …` ran a
part of the tests, and a mutant must be given every test that ran its lines.
"""

import hashlib
import json
import os
import shutil
import sqlite3
from pathlib import Path

from harness.errors import DataError
from harness.measure.outcomes import Outcomes
from harness.mutation.selection import LineTests, read_contexts
from harness.spec.model import ModuleSpec
from harness.spec.project import Project

DATA, META = "test-contexts.coverage", "test-contexts.json"
EXIT_SECONDS = 1.0  # added to a session's start-up for pytest's report and exit (the mapping run's measure)


def wanted(spec: ModuleSpec, step: int | None, shard, pytest_args: tuple[str, ...]) -> bool:
    """Whether this run records and keeps per-test contexts: a whole-module run of a module with a
    `mutation:` target, without extra pytest arguments."""
    if step is not None or shard or pytest_args:
        return False
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
