"""The per-test record: which test ran which line, kept by `harness run` for `harness mutate`.

`harness run` of a module that gates on mutation scores labels each test's lines with its node id
(`harness.run.plugin.StepContexts`) and keeps the coverage data, with each test's duration and
outcome and the session's start-up, under `reports/<id>/.work/`. `harness mutate` then takes which
tests ran which line from it instead of running the suites once more under coverage — as long as the
project's files are as they were when that run started (their paths, sizes and modification times).

Only a whole-module run with no extra pytest arguments is kept: a step, a shard or `-- -k …` ran a
part of the tests, and a mutant must be given every test that ran its lines.
"""

import json
import sqlite3
from pathlib import Path
from typing import NamedTuple

from harness.errors import DataError
from harness.measure.outcomes import Outcomes
from harness.run.env import STEP_CONTEXT
from harness.spec import tree
from harness.spec.model import ModuleSpec
from harness.spec.project import Project
from harness.store import disk, layout

EXIT_SECONDS = 1.0  # added to a session's start-up for pytest's report and exit (the mapping run's measure)


class Kept(NamedTuple):
    """Per measured file, per line, the node ids that ran it; the duration of every test that passed;
    and the seconds a session takes beyond its tests."""

    lines: dict[str, dict[int, frozenset[str]]]
    durations: dict[str, float]
    overhead: float


def wanted(spec: ModuleSpec, step: int | None, shard, pytest_args: tuple[str, ...]) -> bool:
    """Whether this run records and keeps per-test contexts: a whole-module run of a module with a
    `mutation:` target, without extra pytest arguments."""
    if step is not None or shard or pytest_args:
        return False
    rules = [*spec.targets, *(target for s in spec.steps for target in s.targets), spec.overall]
    return any(getattr(rule, "mutation", None) is not None for rule in rules)


def tree_stamp(project: Project) -> str:
    """A digest of the project's files that mutants are made from and tests run in, leaving out what the
    harness itself writes (reports, the trace, MAP.md)."""
    return tree.fingerprint(project, layout.own_files(project))


def keep(project: Project, module_id: str, data_file: Path, outcomes: Outcomes, stamp: str) -> bool:
    """Keep the run's per-test contexts for `harness mutate` if the tree is still as it was when the
    run started (`stamp`); otherwise drop what an earlier run kept. A failure to write (a full disk)
    only loses the shortcut, never the run."""
    at = layout.files(project, module_id)
    try:
        with disk.locked(project):
            disk.remove(at.per_test_meta)  # never a new description of old data, or the other way round
            if not data_file.is_file() or tree_stamp(project) != stamp:
                disk.remove(at.per_test_data)
                return False
            disk.copy_file(data_file, at.per_test_data)
            meta = {
                "tree": stamp,
                "durations": outcomes.durations,
                "failed": sorted(outcomes.failed()),
                "startup": outcomes.startup,
            }
            disk.write_json(at.per_test_meta, meta, indent=None)
    except OSError:
        return False
    return True


def load(project: Project, module_id: str, files: list[str]) -> Kept | None:
    """Which tests ran which lines of `files`, from the last kept run, or None: none kept, the
    project's files changed since, or what was kept cannot be read (a mapping run then does)."""
    from coverage.exceptions import CoverageException

    at = layout.files(project, module_id)
    try:
        doc = json.loads(at.per_test_meta.read_text(encoding="utf-8"))
        if doc.get("tree") != tree_stamp(project) or not at.per_test_data.is_file():
            return None
        failed = set(doc["failed"])
        usable = {test: float(s) for test, s in doc["durations"].items() if test not in failed}
        startup = float(doc["startup"])
        lines = read_contexts(at.per_test_data, project.root, files, failed)
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
