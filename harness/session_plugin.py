"""pytest plugin the harness loads into every session it runs (`-p harness.session_plugin`).

It writes one JSON line per collected-count and per finished test to `$HARNESS_RECORDS`, keyed by the
node id (so a test counts under the file that collected it, inherited classes included), and, when
`$HARNESS_SHARD` is `K/N`, keeps only the K-th of N slices of the collected tests. The harness reads
the records for its counts and tails them for the progress display.
"""

from __future__ import annotations

import json
import os

import pytest

from harness.session_env import RECORDS_ENV, SHARD_ENV


def shard_of(nodeids: list[str], index: int, count: int) -> set[str]:
    """The node ids shard `index` (1-based) of `count` runs: sorted, then every count-th from index-1."""
    return {nodeid for i, nodeid in enumerate(sorted(nodeids)) if i % count == index - 1}


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # trylast: -k / -m deselection runs first, so shards split what would really run.
    shard = os.environ.get(SHARD_ENV)
    if not shard:
        return
    index, count = (int(part) for part in shard.split("/"))
    keep = shard_of([item.nodeid for item in items], index, count)
    deselected = [item for item in items if item.nodeid not in keep]
    if deselected:
        items[:] = [item for item in items if item.nodeid in keep]
        config.hook.pytest_deselected(items=deselected)


def pytest_configure(config: pytest.Config) -> None:
    path = os.environ.get(RECORDS_ENV)
    # xdist workers report to the controller, which records for everyone.
    if path and not hasattr(config, "workerinput"):
        config.pluginmanager.register(Recorder(path), "harness-recorder")


class Recorder:
    """Folds each test's setup/call/teardown reports into one record with its outcome and duration."""

    def __init__(self, path: str):
        self._out = open(path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115  (closed at unconfigure)
        self._open: dict[str, list[pytest.TestReport]] = {}
        self._collected = False

    def _write(self, record: dict) -> None:
        self._out.write(json.dumps(record) + "\n")  # line-buffered: each record reaches the file whole

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self._write({"event": "collected", "count": len(session.items)})
        self._collected = True

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node, ids: list[str]) -> None:
        # With xdist the controller collects nothing; every worker collects the same ids.
        if not self._collected:
            self._collected = True
            self._write({"event": "collected", "count": len(_kept(node.config, ids))})

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self._write(
                {
                    "event": "test",
                    "nodeid": report.nodeid,
                    "collection": True,
                    "outcome": "errors",
                    "message": _message(report),
                    "duration": 0.0,
                }
            )

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        reports = self._open.setdefault(report.nodeid, [])
        reports.append(report)
        if report.when not in ("setup", "call"):  # teardown, or xdist's "???" for a crashed worker
            self._write(_fold(self._open.pop(report.nodeid)))

    def pytest_unconfigure(self) -> None:
        for reports in self._open.values():  # a test whose teardown never came (session aborted)
            self._write(_fold(reports))
        self._open.clear()
        self._out.close()


def _kept(config: pytest.Config, ids: list[str]) -> list[str]:
    shard = os.environ.get(SHARD_ENV)
    if not shard:
        return ids
    index, count = (int(part) for part in shard.split("/"))
    keep = shard_of(ids, index, count)
    return [nodeid for nodeid in ids if nodeid in keep]


def _fold(reports: list[pytest.TestReport]) -> dict:
    """One outcome per test: a failed call beats a setup/teardown error, which beats a skip."""
    by_when = {r.when: r for r in reports}
    call = by_when.get("call")
    errored = [r for when, r in by_when.items() if when != "call" and r.failed]
    skipped = [r for r in reports if r.skipped]
    if call is not None and call.failed:
        outcome, source = "failed", call
    elif errored:
        outcome, source = "errors", errored[0]
    elif skipped:
        outcome, source = "skipped", skipped[0]
    else:
        outcome, source = "passed", None
    return {
        "event": "test",
        "nodeid": reports[0].nodeid,
        "outcome": outcome,
        "message": _message(source) if source is not None else "",
        "duration": round(sum(r.duration for r in reports), 6),
    }


def _message(report) -> str:
    """The one line a reader needs: the skip reason, the xfail reason or the exception's first line."""
    if getattr(report, "wasxfail", None) is not None and report.skipped:
        return f"xfail: {report.wasxfail}".rstrip(": ")
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
