"""trace.yml events: every event is built here and appended through `disk.append_events`.

A run logs `run_started` and exactly one end: `run_finished`, `run_failed` (with the reason),
`run_interrupted` or, for a shard, `shard_finished`. A harness killed outright (SIGKILL, power loss)
cannot log its end; the next run in the project logs `run_interrupted` for it once its process is gone.
"""

import contextlib
import os
import secrets
import socket
import subprocess
from pathlib import Path

from harness.spec.model import ModuleSpec
from harness.spec.project import Project
from harness.store import disk

ENDS = ("run_finished", "run_failed", "run_interrupted", "shard_finished")


def git_commit(root: Path) -> str | None:
    """HEAD's commit, or None outside a git checkout."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def event(project: Project, module_id: str, name: str, **fields) -> dict:
    return {
        "at": disk.now(),
        "event": name,
        "module": module_id,
        "commit": git_commit(project.root),
        **fields,
    }


def record(project: Project, *events: dict) -> None:
    """Append events to the project's trace.yml (under the project lock, replaced whole)."""
    disk.append_events(project.trace_path, project.lock_path, list(events))


def finished(project: Project, result: dict, run: str | None = None) -> dict:
    """`run_finished`: the figures `harness history` reads back."""
    return event(
        project,
        result["module"],
        "run_finished",
        run=run,
        step=(result["step"] or {}).get("number"),
        shards=result.get("shards"),
        target=result["overall"].get("target"),
        status=result["status"],
        reason=result["reason"],
        tests=result["tests"],
        overall=result["overall"]["percent"],
        unmet=result["unmet"],
        files={p: f["percent"] for p, f in result["files"].items()},
    )


class RunSpan:
    """A run between its `run_started` and its one end event."""

    def __init__(self, project: Project, spec: ModuleSpec, **where):
        self.project, self.spec, self.where = project, spec, where
        self.run = secrets.token_hex(6)
        self.ended = False

    def end(self, ev: dict) -> None:
        record(self.project, ev)
        self.ended = True

    def end_as(self, name: str, **fields) -> None:
        self.end(event(self.project, self.spec.id, name, run=self.run, **self.where, **fields))


@contextlib.contextmanager
def run_span(project: Project, spec: ModuleSpec, **where):
    """Log `run_started`; whatever stops the run before an end is logged, log why (then re-raise)."""
    span = RunSpan(project, spec, **where)
    started = event(
        project, spec.id, "run_started", run=span.run, **where, pid=os.getpid(), host=socket.gethostname()
    )
    disk.append_events(project.trace_path, project.lock_path, [started], before=abandoned)
    try:
        yield span
    except KeyboardInterrupt:
        if not span.ended:
            span.end_as("run_interrupted")
        raise
    except BaseException as err:
        if not span.ended:
            span.end_as("run_failed", reason=str(err) or type(err).__name__)
        raise


def abandoned(trace: list) -> list[dict]:
    """`run_interrupted` for runs of this host whose process died without logging an end."""
    host, ended, open_runs = socket.gethostname(), set(), {}
    for entry in trace:
        if not isinstance(entry, dict) or not entry.get("run"):
            continue
        if entry.get("event") == "run_started":
            open_runs[entry["run"]] = entry
        elif entry.get("event") in ENDS:
            ended.add(entry["run"])
    return [
        {
            "at": disk.now(),
            "event": "run_interrupted",
            "module": start.get("module"),
            "commit": start.get("commit"),
            "run": run,
            "step": start.get("step"),
            "shard": start.get("shard"),
            "reason": f"the harness process {start['pid']} ended without logging a result (killed?)",
        }
        for run, start in open_runs.items()
        if run not in ended and start.get("host") == host and not _alive(start.get("pid"))
    ]


def _alive(pid) -> bool:
    if not isinstance(pid, int):
        return True  # cannot tell: leave it open rather than close a run that may still be going
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
