"""What the user sees while tests run: a live bar on a terminal, a plain line every 10 s in CI, or nothing."""

import sys
import time
from typing import TextIO

PLAIN_EVERY = 10.0  # seconds between lines when the output is not a terminal (CI logs)


class Silent:
    """No progress display (`--quiet`, or `-v` where pytest's own output streams instead)."""

    def start(self, label: str) -> None:
        pass

    def update(self, done: int, total: int | None, failed: int) -> None:
        pass

    def stop(self) -> None:
        pass


class PlainLines(Silent):
    """A line every `every` seconds: for logs, where a redrawn bar would be noise."""

    def __init__(self, stream: TextIO, every: float = PLAIN_EVERY, clock=time.monotonic):
        self.stream, self.every, self.clock = stream, every, clock
        self.label, self.started, self.last = "", 0.0, 0.0

    def start(self, label: str) -> None:
        self.label, self.started = label, self.clock()
        self.last = self.started

    def update(self, done: int, total: int | None, failed: int) -> None:
        now = self.clock()
        if now - self.last >= self.every:
            self.last = now
            print(f"    {status_text(done, total, failed, now - self.started)}", file=self.stream, flush=True)


class LiveBar(Silent):
    """rich's progress bar on a terminal: tests done of collected, failures so far, elapsed."""

    def __init__(self, stream: TextIO):
        self.stream = stream
        self.progress = None
        self.task = None

    def start(self, label: str) -> None:
        # rich is imported only when a bar is drawn: other commands start faster without it.
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.progress = Progress(
            TextColumn("    {task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[failed]} failed"),
            TimeElapsedColumn(),
            console=Console(file=self.stream),
            transient=True,
        )
        self.task = self.progress.add_task(label, total=None, failed=0)
        self.progress.start()

    def update(self, done: int, total: int | None, failed: int) -> None:
        if self.progress is not None:
            self.progress.update(self.task, completed=done, total=total, failed=failed)

    def stop(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None


def status_text(done: int, total: int | None, failed: int, elapsed: float) -> str:
    """`120/278 tests, 1 failed, 0:12 elapsed` (the plain form of the live bar)."""
    minutes, seconds = divmod(int(elapsed), 60)
    of = f"/{total}" if total is not None else ""
    return f"{done}{of} tests, {failed} failed, {minutes}:{seconds:02d} elapsed"


def for_run(quiet: bool, verbose: bool, stream: TextIO | None = None) -> Silent:
    """The display that fits the output: none when quiet or verbose, a bar on a terminal, else lines."""
    stream = stream or sys.stderr
    if quiet or verbose:
        return Silent()
    return LiveBar(stream) if stream.isatty() else PlainLines(stream)
