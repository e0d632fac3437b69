"""A run between its `run_started` event and its one end: finished, failed, interrupted or a stored shard.

A harness killed outright (SIGKILL, power loss) cannot log its end; the next run in the project on the
same host logs `run_interrupted` for it once its process is gone.
"""

import contextlib
import os
import secrets
import socket
from collections.abc import Iterator

from harness.spec import git
from harness.spec.project import Project
from harness.store import disk, trace


class RunSpan:
    """One run's id and where it runs (`step`, `shard` or `combine`); `end` logs its one end event."""

    def __init__(self, project: Project, module_id: str, **where):
        self.project, self.module_id, self.where = project, module_id, where
        self.run = secrets.token_hex(6)
        self.ended = False

    def end(self, event: trace.Event) -> None:
        trace.append(self.project, event)
        self.ended = True

    def end_as(self, kind: type[trace.RunEnded], **fields) -> None:
        self.end(
            kind(
                module=self.module_id,
                commit=git.commit(self.project.root),
                run=self.run,
                **self.where,
                **fields,
            )
        )


@contextlib.contextmanager
def run_span(project: Project, module_id: str, **where) -> Iterator[RunSpan]:
    """Log `run_started`; whatever stops the run before an end is logged, log why (then re-raise)."""
    span = RunSpan(project, module_id, **where)
    started = trace.RunStarted(
        module=module_id,
        commit=git.commit(project.root),
        run=span.run,
        **where,
        pid=os.getpid(),
        host=socket.gethostname(),
    )
    trace.append(project, started, before=abandoned)
    try:
        yield span
    except KeyboardInterrupt:
        if not span.ended:
            span.end_as(trace.RunInterrupted)
        raise
    except BaseException as err:
        if not span.ended:
            span.end_as(trace.RunFailed, reason=str(err) or type(err).__name__)
        raise


def abandoned(events: list[trace.Event]) -> list[trace.Event]:
    """`run_interrupted` for runs of this host whose process died without logging an end."""
    host, ended, open_runs = socket.gethostname(), set(), {}
    for event in events:
        if isinstance(event, trace.RunStarted) and event.run:
            open_runs[event.run] = event
        elif isinstance(event, trace.RUN_ENDS) and event.run:
            ended.add(event.run)
    return [
        trace.RunInterrupted(
            at=disk.now(),
            module=start.module,
            commit=start.commit,
            run=run,
            step=start.step,
            shard=start.shard,
            combine=start.combine,
            reason=f"the harness process {start.pid} ended without logging a result (killed?)",
        )
        for run, start in open_runs.items()
        if run not in ended and start.host == host and not _alive(start.pid)
    ]


def _alive(pid: int | None) -> bool:
    if pid is None:
        return True  # cannot tell: leave it open rather than close a run that may still be going
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
