"""An interrupted `harness run` stops pytest, logs `run_interrupted` and leaves earlier outputs intact."""

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

SLOW_TEST = """\
import threading


def test_waits_to_be_interrupted():
    threading.Event().wait(60)  # never set: only the interruption ends this test
"""


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_run_stops_pytest_and_logs_it(throwaway, signum):
    """Ctrl-C or SIGTERM mid-run: exit non-zero, pytest gone, `run_interrupted` logged, old outputs kept."""
    throwaway.spec("mod-a", suites=["suites/tests/test_ops.py"])
    assert throwaway.harness("run", "mod-a").exit_code == 0
    report = (throwaway.root / "reports/mod-a/COMPLETION_STATUS.md").read_bytes()
    map_text = (throwaway.root / "MAP.md").read_bytes()
    throwaway.write("suites/tests/test_slow.py", SLOW_TEST)
    throwaway.spec("mod-a", suites=["suites/tests/test_ops.py", "suites/tests/test_slow.py"])
    marker = throwaway.root / "started"
    throwaway.write("suites/tests/conftest.py", f"open({str(marker)!r}, 'w').close()\n")

    exe = str(Path(sys.executable).parent / "harness")
    proc = subprocess.Popen([exe, "run", "mod-a"], cwd=throwaway.root, stdout=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while not marker.exists():  # pytest has started collecting: the run is under way
        assert time.monotonic() < deadline, "pytest never started"
        with pytest.raises(subprocess.TimeoutExpired):  # the harness must still be running
            proc.wait(timeout=0.05)
    proc.send_signal(signum)
    proc.communicate(timeout=30)

    assert proc.returncode != 0
    events = [(e["module"], e["event"]) for e in throwaway.trace()]
    assert events == [
        ("mod-a", "run_started"),
        ("mod-a", "run_finished"),
        ("mod-a", "run_started"),
        ("mod-a", "run_interrupted"),
    ]
    assert (throwaway.root / "reports/mod-a/COMPLETION_STATUS.md").read_bytes() == report
    assert (throwaway.root / "MAP.md").read_bytes() == map_text
    assert not list((throwaway.root / "reports/mod-a/.work").glob("run-*"))
    leftover = subprocess.run(["pgrep", "-f", "test_slow.py"], capture_output=True, text=True)
    assert leftover.stdout == "", "pytest kept running after the harness was interrupted"
