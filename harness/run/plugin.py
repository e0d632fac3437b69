"""pytest plugin the harness loads into every session it runs (`-p harness.run.plugin`).

It writes one JSON line per collected-count and per finished test to `$HARNESS_RECORDS`, keyed by the
node id (so a test counts under the file that collected it, inherited classes included), and, when
`$HARNESS_SHARD` is `K/N`, keeps only the K-th of N slices of the collected tests. The harness reads
the records for its counts and tails them for the progress display. With `$HARNESS_STEPS` it names
coverage.py's dynamic context after the steps each test belongs to (`StepContexts`). With
`$HARNESS_READS` it notes the files each process imports and opens and the directories it lists
(`Reads`, for `harness run --changed`), and with `$HARNESS_SELECT` it keeps only the tests a change
affects. With `$HARNESS_SHUFFLE_SEED` it runs the tests in that seed's order, with `$HARNESS_ORDER` in the
order a file lists (`harness.run.ordering`). A test that pytest-rerunfailures ran again carries its failed
attempts.

A test's subtests (unittest's `subTest`, pytest's `subtests` fixture) are counted in its record; a
failed subtest fails the test. The tests the selection left out (`-k`, `-m`, `--deselect`; not the
shard's slicing) are one `deselected` record, from the xdist workers too, so a run's counts are the same
with workers and shards as without.
"""

from __future__ import annotations

import json
import os
import sys
import time

import pytest

from harness.run import ordering
from harness.run.env import (
    READS_ENV,
    RECORDS_ENV,
    SELECT_ENV,
    SHARD_ENV,
    STEP_CONTEXT,
    STEPS_ENV,
    TEST_CONTEXTS_ENV,
)
from harness.run.records import xfail_message

_LOADED = time.monotonic()  # pytest loads this plugin while it reads its arguments, before collecting
SLICED = pytest.StashKey[set]()  # the node ids the shard's slicing left out
_DESELECTED = "harness_deselected"  # an xdist worker's count, in its workeroutput


def shard_of(nodeids: list[str], index: int, count: int) -> set[str]:
    """The node ids shard `index` (1-based) of `count` runs: sorted, then every count-th from index-1."""
    return {nodeid for i, nodeid in enumerate(sorted(nodeids)) if i % count == index - 1}


class Reads:
    """The files under the project a pytest process opens, the directories it lists, and (at its end)
    the modules it imported: what its tests may depend on besides the measured code.

    An audit hook (PEP 578), installed when this plugin is imported, before conftest files load: it
    sees Python-level opens (`open`, `io.open_code` for imports, `os.open`) and directory listings,
    not a C extension's own file access or a subprocess's.
    """

    def __init__(self, directory: str):
        self.directory = directory
        self.opened: set[str] = set()
        self.listed: set[str] = set()
        sys.addaudithook(self._hook)  # stays for the life of the process, as audit hooks do

    def _hook(self, event: str, args: tuple) -> None:
        if event == "open" or event in ("os.listdir", "os.scandir"):
            path = args[0] if args else None
            if isinstance(path, str | bytes | os.PathLike):
                try:
                    target = self.opened if event == "open" else self.listed
                    target.add(os.path.abspath(os.fsdecode(path)))
                except (TypeError, ValueError, OSError):
                    pass

    def write(self) -> None:
        modules = {getattr(module, "__file__", None) for module in list(sys.modules.values())}
        doc = {
            "imported": sorted(os.path.abspath(f) for f in modules if isinstance(f, str)),
            "opened": sorted(self.opened),
            "listed": sorted(self.listed),
        }
        os.makedirs(self.directory, exist_ok=True)
        partial = os.path.join(self.directory, f".{os.getpid()}.partial")
        with open(partial, "w", encoding="utf-8") as out:
            json.dump(doc, out)
        os.replace(partial, os.path.join(self.directory, f"{os.getpid()}.json"))


_READS = Reads(os.environ[READS_ENV]) if os.environ.get(READS_ENV) else None


def pytest_unconfigure(config: pytest.Config) -> None:
    if _READS is not None:
        _READS.write()


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # trylast: -k / -m deselection runs first, so a selection and shards split what would really run; and
    # an explicit order (a replay) is the last word on what runs and when.
    keep = selected([item.nodeid for item in items])
    shard = os.environ.get(SHARD_ENV)
    if shard:
        index, count = (int(part) for part in shard.split("/"))
        keep = shard_of(sorted(keep), index, count)
    deselected = [item for item in items if item.nodeid not in keep]
    config.stash[SLICED] = {item.nodeid for item in deselected}
    if deselected:
        items[:] = [item for item in items if item.nodeid in keep]
        config.hook.pytest_deselected(items=deselected)
    ordering.keep_explicit(config, items)


def selected(ids: list[str]) -> set[str]:
    """The node ids `$HARNESS_SELECT` keeps: the tests it names and every test of the files it names."""
    path = os.environ.get(SELECT_ENV)
    if not path:
        return set(ids)
    with open(path, encoding="utf-8") as handle:
        chosen = json.load(handle)
    tests, files = set(chosen.get("tests", ())), set(chosen.get("files", ()))
    return {nodeid for nodeid in ids if nodeid in tests or nodeid.split("::")[0] in files}


def within(nodeid: str, path: str) -> bool:
    """Whether a test's node id lies under a suite path (a directory, a file or a node id)."""
    path = path.removeprefix("./").rstrip("/")
    return nodeid == path or nodeid.startswith((f"{path}/", f"{path}::", f"{path}["))


def step_context(numbers: list[int]) -> str:
    return STEP_CONTEXT + ",".join(str(number) for number in numbers)


def steps_label(steps: list[tuple[int, tuple[str, ...]]], nodeid: str) -> str:
    """The coverage context of a test: the steps whose suite paths hold it (`harness-steps:` for none)."""
    return step_context([number for number, paths in steps if any(within(nodeid, p) for p in paths)])


def subprocess_context(nodeid: str) -> str | None:
    """The step label a process started for this test should put on its own coverage data, if any.

    A server a test starts runs target code outside pytest's process; measured with a static context of
    this label, its lines count for the test's steps as the test's own lines do. None when the session
    does not label steps. Per-test labels (`harness mutate`) are not given: a shared server serves many.
    """
    steps = os.environ.get(STEPS_ENV)
    if not steps:
        return None
    return steps_label([(number, tuple(paths)) for number, paths in json.loads(steps)], nodeid)


def pytest_configure(config: pytest.Config) -> None:
    ordering.configure(config)
    path = os.environ.get(RECORDS_ENV)
    # xdist workers report to the controller, which records for everyone.
    if path and not hasattr(config, "workerinput"):
        config.pluginmanager.register(Recorder(path), "harness-recorder")
    elif path:  # a worker: what its selection left out goes to the controller when it finishes
        config.pluginmanager.register(WorkerDeselection(), "harness-deselection")
    steps, per_test = os.environ.get(STEPS_ENV), bool(os.environ.get(TEST_CONTEXTS_ENV))
    if steps or per_test:  # on an xdist controller it never fires: the workers run the tests
        plugin = StepContexts(json.loads(steps) if steps else [], per_test)
        config.pluginmanager.register(plugin, "harness-step-contexts")


class StepContexts:
    """Sets coverage.py's dynamic context to the steps of each test, so one run gives every step's figures.

    A context per step set rather than per test (pytest-cov's `--cov-context=test` records three per
    test): the data stays small and the context changes only where the steps change. Lines run while
    modules were imported keep the empty context, which every step counts. With `per_test` (a module
    that gates on mutation scores) each test gets its own, `<step label> <node id>`.
    """

    def __init__(self, steps: list[list], per_test: bool = False):
        self.steps = [(number, tuple(paths)) for number, paths in steps]
        self.per_test = per_test
        self.current: str | None = None

    @pytest.hookimpl(tryfirst=True)  # before the test's fixtures are set up
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        label = steps_label(self.steps, item.nodeid)
        if self.per_test:  # which test ran which line, for `harness mutate`: a context per test
            label = f"{label} {item.nodeid}"
        if label == self.current:
            return
        import coverage  # here, not at the top: this plugin loads into sessions without pytest-cov too

        cov = coverage.Coverage.current()
        if cov is not None:
            cov.switch_context(label)
            self.current = label


class Deselection:
    """The tests deselected in this process; `count` is how many of them the selection left out."""

    def __init__(self) -> None:
        self.ids: list[str] = []

    def pytest_deselected(self, items: list[pytest.Item]) -> None:
        self.ids.extend(item.nodeid for item in items)

    def count(self, config: pytest.Config) -> int:
        """Not the shard's slicing: in a shard, its slice of the selection's (so the shards add up)."""
        sliced = config.stash.get(SLICED, set())
        left_out = [nodeid for nodeid in self.ids if nodeid not in sliced]
        return len(_kept(config, left_out))


class WorkerDeselection(Deselection):
    """On an xdist worker: the count goes to the controller (every worker deselects the same tests)."""

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        session.config.workeroutput[_DESELECTED] = self.count(session.config)


class Subtests:
    """A test's subtests: how many passed, failed and were skipped, and the first failure."""

    def __init__(self) -> None:
        self.counts = {"passed": 0, "failed": 0, "skipped": 0}
        self.failure: pytest.TestReport | None = None

    def add(self, report: pytest.TestReport) -> None:
        self.counts["failed" if report.failed else "skipped" if report.skipped else "passed"] += 1
        if report.failed and self.failure is None:
            self.failure = report


def is_subtest(report: pytest.TestReport) -> bool:
    """A subtest's report (pytest's own, or pytest-subtests' before pytest 9): it carries the context."""
    return report.when == "call" and getattr(report, "context", None) is not None


class Recorder(Deselection):
    """Folds each test's setup/call/teardown reports into one record with its outcome and duration."""

    def __init__(self, path: str):
        super().__init__()
        self._out = open(path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115  (closed at unconfigure)
        self._open: dict[str, list[pytest.TestReport]] = {}
        self._subtests: dict[str, Subtests] = {}
        self._reruns: dict[str, list[dict]] = {}  # failed attempts of tests pytest-rerunfailures ran again
        self._collected = False
        self._deselected = False

    def _write(self, record: dict) -> None:
        self._out.write(json.dumps(record) + "\n")  # line-buffered: each record reaches the file whole

    def _write_collected(self, config: pytest.Config, count: int) -> None:
        self._collected = True
        self._write({"event": "collected", "count": count, "seconds": _since_loaded()})
        self._write(ordering.record(config))

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self._write_collected(session.config, len(session.items))
        self._write_deselected(self.count(session.config))

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node, error) -> None:
        count = getattr(node, "workeroutput", {}).get(_DESELECTED)
        if count is not None:  # None: the worker crashed before it collected
            self._write_deselected(count)

    def _write_deselected(self, count: int) -> None:
        if not self._deselected:
            self._deselected = True
            self._write({"event": "deselected", "count": count})

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node, ids: list[str]) -> None:
        # With xdist the controller collects nothing; every worker collects the same ids.
        if not self._collected:
            self._write_collected(node.config, len(_kept(node.config, ids)))

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self._write(
                {
                    "event": "test",
                    "nodeid": report.nodeid,
                    "collection": True,
                    "outcome": "errors",
                    "message": _message(report),
                    "details": str(report.longrepr or ""),
                    "duration": 0.0,
                }
            )

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if is_subtest(report):
            self._subtests.setdefault(report.nodeid, Subtests()).add(report)
            return
        if report.outcome == "rerun":  # pytest-rerunfailures: this attempt failed and the test runs again
            self._reruns.setdefault(report.nodeid, []).append(_attempt(report))
            self._open[report.nodeid] = [report]  # the attempt's teardown still comes, and is dropped
            self._subtests.pop(report.nodeid, None)  # the next attempt counts its own
            return
        reports = self._open.setdefault(report.nodeid, [])
        if reports and reports[0].outcome == "rerun":
            if report.when != "setup":
                return
            reports.clear()  # the next attempt starts
        reports.append(report)
        if report.when not in ("setup", "call"):  # teardown, or xdist's "???" for a crashed worker
            self._write(self._record(self._open.pop(report.nodeid)))

    def _record(self, reports: list[pytest.TestReport]) -> dict:
        nodeid = reports[0].nodeid
        record = _fold(reports, self._subtests.pop(nodeid, None))
        reruns = self._reruns.pop(nodeid, None)
        if reruns:  # a pass after these failures is a flaky test, never a plain pass
            record["reruns"] = reruns
        worker = getattr(reports[-1], "worker_id", None)  # xdist: which worker process ran it
        if worker:
            record["worker"] = worker
        return record

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, exitstatus) -> None:
        # pytest-cov saved the coverage data at the end of the test loop: the harness may read it while
        # pytest still reports and exits (about a second for a session of thousands of tests).
        self._write({"event": "session_finished", "exitstatus": int(exitstatus)})

    def pytest_unconfigure(self) -> None:
        for reports in list(self._open.values()):  # a test whose teardown never came (session aborted)
            if reports[0].outcome != "rerun":
                self._write(self._record(reports))
        self._open.clear()
        self._out.close()


def _since_loaded() -> float:
    """Seconds from this plugin's loading to the end of collection: about a session's start-up."""
    return round(time.monotonic() - _LOADED, 3)


def _attempt(report: pytest.TestReport) -> dict:
    """A failed attempt of a test that ran again: how it failed, in the record's own words."""
    return {
        "outcome": "failed" if report.when == "call" else "errors",
        "message": _message(report),
        "details": report.longreprtext,
    }


def _kept(config: pytest.Config, ids: list[str]) -> list[str]:
    """The ids of this process's shard (all of them without one), among those `$HARNESS_SELECT` keeps."""
    keep = selected(ids)
    shard = os.environ.get(SHARD_ENV)
    if shard:
        index, count = (int(part) for part in shard.split("/"))
        keep = shard_of(sorted(keep), index, count)
    return [nodeid for nodeid in ids if nodeid in keep]


def _fold(reports: list[pytest.TestReport], subtests: Subtests | None = None) -> dict:
    """One outcome per test: a failed call (or subtest) beats a setup/teardown error, which beats a skip."""
    by_when = {r.when: r for r in reports}
    call = by_when.get("call")
    errored = [r for when, r in by_when.items() if when != "call" and r.failed]
    skipped = [r for r in reports if r.skipped]
    if call is not None and call.failed:
        outcome, source = "failed", call
    elif subtests is not None and subtests.failure is not None:
        outcome, source = "failed", subtests.failure
    elif errored:
        outcome, source = "errors", errored[0]
    elif skipped:
        outcome, source = "skipped", skipped[0]
    else:
        outcome, source = "passed", None
    record = {
        "event": "test",
        "nodeid": reports[0].nodeid,
        "outcome": outcome,
        "message": _message(source) if source is not None else "",
        "duration": round(sum(r.duration for r in reports), 6),
        "location": [reports[0].location[0], reports[0].location[1]],  # where the test is defined
    }
    if outcome in ("failed", "errors"):
        record["details"] = source.longreprtext  # the full text, for junit.xml
    if subtests is not None:
        record["subtests"] = subtests.counts
    properties = reports[-1].user_properties  # all of the test's record_property() calls so far
    if properties:  # for junit.xml
        record["properties"] = [[str(name), str(value)] for name, value in properties]
    return record


def _message(report) -> str:
    """The one line a reader needs: the skip reason, the xfail reason or the exception's first line;
    for a subtest, after which one it was (`subtest [msg] (i=4): AssertionError: ...`)."""
    text = _first_line(report)
    if not is_subtest(report):
        return text
    name = _subtest_name(report.context)
    return f"subtest {name}: {text}" if name else f"subtest: {text}"


def _subtest_name(context) -> str:
    """`[msg] (i=4)`, as pytest names a subtest in its summary."""
    parts = [f"[{context.msg}]"] if context.msg else []
    if context.kwargs:
        parts.append("(" + ", ".join(f"{key}={value}" for key, value in context.kwargs.items()) + ")")
    return " ".join(parts)


def _first_line(report) -> str:
    if getattr(report, "wasxfail", None) is not None and report.skipped:
        return xfail_message(report.wasxfail)
    longrepr = report.longrepr
    if report.skipped and isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    crash = getattr(longrepr, "reprcrash", None)
    if crash is not None:
        lines = [line for line in crash.message.splitlines() if line.strip()]
        return lines[0].strip() if lines else ""
    # A collection error is plain text: its last `E   ` line is the exception.
    lines = [line for line in str(longrepr or "").splitlines() if line.strip()]
    raised = [line[1:].strip() for line in lines if line.startswith("E ")]
    return raised[-1] if raised else (lines[0].strip() if lines else "")
