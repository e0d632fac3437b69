"""What git says about the project: the commit a result or an event belongs to."""

import subprocess
from pathlib import Path


def commit(root: Path) -> str | None:
    """HEAD's commit, or None outside a git checkout."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None
