"""What a served process holds, read from /proc: resident memory, its peak, open file descriptors."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ProcessStats:
    """One reading of a process: RSS and peak RSS (VmHWM) in kB, open file descriptors, threads."""

    rss_kb: int
    peak_rss_kb: int
    fds: int
    threads: int

    @property
    def rss_mb(self) -> float:
        return self.rss_kb / 1024

    def growth_since(self, start: ProcessStats) -> tuple[float, int]:
        """(RSS growth in MB, fd growth) from `start` to this reading."""
        return (self.rss_kb - start.rss_kb) / 1024, self.fds - start.fds


def read_stats(pid: int) -> ProcessStats:
    """The process's current figures (Linux /proc; the process must be alive)."""
    status = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        status[key] = value.split()[0] if value.split() else ""
    return ProcessStats(
        rss_kb=int(status["VmRSS"]),
        peak_rss_kb=int(status["VmHWM"]),
        fds=len(os.listdir(f"/proc/{pid}/fd")),
        threads=int(status["Threads"]),
    )


def reset_peak_rss(pid: int) -> None:
    """Start VmHWM again from the current RSS, so a later peak belongs to what happened since."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # "5": reset the peak RSS (proc(5))
