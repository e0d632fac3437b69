"""Background jobs at the end of a run: forked children and the inline fallback give the same outcomes."""

import os
import threading
from pathlib import Path

import pytest

from harness.errors import DataError
from harness.run import background
from harness.run.background import Jobs


def _write_pid(path: Path) -> None:
    path.write_text(str(os.getpid()), encoding="utf-8")


def _fail(message: str) -> None:
    raise DataError(message)


class _Unpicklable(Exception):
    def __init__(self, a, b):  # pickle rebuilds exceptions from `args`, which this one cannot take
        super().__init__(f"{a}/{b}")


def _fail_oddly() -> None:
    raise _Unpicklable(1, 2)


def _block(fd: int) -> None:
    os.read(fd, 1)  # nothing is ever written: only a kill ends this


@pytest.mark.parametrize("fork", [True, False])
def test_a_job_does_its_work_before_wait_returns(tmp_path, fork):
    out = tmp_path / "pid"
    with Jobs(fork=fork) as jobs:
        jobs.start(_write_pid, out)
        jobs.wait()
    assert (int(out.read_text()) != os.getpid()) is fork  # forked: another process did it


@pytest.mark.parametrize("fork", [True, False])
def test_a_jobs_error_is_raised_by_wait_with_its_message(tmp_path, fork):
    jobs = Jobs(fork=fork)
    jobs.start(_write_pid, tmp_path / "pid")
    jobs.start(_fail, "coverage.py could not report: no source for code")
    with pytest.raises(DataError, match="no source for code"):
        jobs.wait()
    jobs.wait()  # the error is reported once


def test_an_error_that_cannot_travel_back_is_named():
    jobs = Jobs(fork=True)
    jobs.start(_fail_oddly)
    with pytest.raises(DataError, match="_Unpicklable: 1/2"):
        jobs.wait()


def test_cancel_kills_and_reaps_a_running_child():
    reader, writer = os.pipe()
    try:
        jobs = Jobs(fork=True)
        jobs.start(_block, reader)
        ((pid, _),) = jobs._children
        jobs.cancel()
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # reaped already: no zombie left
        jobs.wait()  # nothing left to wait for
    finally:
        os.close(reader)
        os.close(writer)


def test_leaving_the_block_on_an_error_cancels_the_jobs():
    reader, writer = os.pipe()
    try:
        with pytest.raises(KeyboardInterrupt), Jobs(fork=True) as jobs:
            jobs.start(_block, reader)
            raise KeyboardInterrupt
        assert jobs._children == []
    finally:
        os.close(reader)
        os.close(writer)


def test_forks_only_on_linux_while_one_thread_runs(monkeypatch):
    release = threading.Event()
    other = threading.Thread(target=release.wait)
    monkeypatch.setattr(background.threading, "active_count", lambda: 1)
    monkeypatch.setattr(background.sys, "platform", "linux")
    assert Jobs()._can_fork()
    monkeypatch.setattr(background.sys, "platform", "darwin")
    assert not Jobs()._can_fork()
    monkeypatch.undo()
    other.start()
    try:
        assert not Jobs()._can_fork()  # a second thread: forking could deadlock the child
    finally:
        release.set()
        other.join()
