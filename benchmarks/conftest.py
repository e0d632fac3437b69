"""Collects each benchmark's figures and prints them as one table at the end of the run."""

import pytest

ROWS: list[tuple[str, float, float]] = []
LINES: list[str] = []


@pytest.fixture
def record_ratio():
    """Call with (scenario, virtual_seconds, wall_seconds) to add a row to the closing table."""
    return lambda name, virtual, wall: ROWS.append((name, virtual, wall))


@pytest.fixture
def bench_print():
    """Call with a line of text to print it in the closing summary (tables of other benchmarks)."""
    return LINES.append


def pytest_terminal_summary(terminalreporter):
    write = terminalreporter.write_line
    for line in LINES:
        write(line)
    if not ROWS:
        return
    write("")
    write(f"{'scenario':58} {'loop time':>10} {'wall':>9} {'speed-up':>10}")
    for name, virtual, wall in ROWS:
        write(f"{name:58} {virtual:9.1f}s {wall:8.3f}s {virtual / wall:9.0f}x")
