"""Fresh Python processes that SIGKILL themselves in the middle of a store write (between the temp file
and the rename, or half way through writing it), for the tests that nothing already stored is lost."""

import subprocess
import sys
import textwrap


def child(script: str, *args: str) -> subprocess.CompletedProcess:
    """Run a Python snippet in a fresh process (so it can SIGKILL itself at a chosen point)."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script), *args], capture_output=True, text=True, timeout=60
    )


KILL_AT_REPLACE = """
    import os, signal, sys
    from pathlib import Path
    from harness.spec.project import Project
    from harness.store import mapfile, trace
    os.replace = lambda *a: os.kill(os.getpid(), signal.SIGKILL)  # die between temp write and replace
"""

KILL_MID_WRITE = """
    import os, signal, sys
    from pathlib import Path
    from harness.spec.project import Project
    from harness.store import mapfile, trace
    real_fdopen = os.fdopen
    class Half:
        def __init__(self, handle): self.handle = handle
        def __enter__(self): return self
        def __exit__(self, *exc): return False
        def write(self, data):
            self.handle.write(data[: len(data) // 2]); self.handle.flush()
            os.kill(os.getpid(), signal.SIGKILL)
    os.fdopen = lambda fd, mode: Half(real_fdopen(fd, mode))
"""
