"""Nothing is lost: atomic writes, appends, directory swaps, the lock, and a harness killed mid-run."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from harness.store import disk


def test_atomic_write_replaces_whole_file_and_keeps_mode(tmp_path):
    target = tmp_path / "a.txt"
    disk.atomic_write(target, "one")
    target.chmod(0o640)
    disk.atomic_write(target, "two")
    assert target.read_text() == "two"
    assert target.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_failure_between_temp_write_and_replace_keeps_old_file(tmp_path, monkeypatch):
    target = tmp_path / "results.json"
    target.write_text("old")

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(disk.os, "replace", broken_replace)
    with pytest.raises(OSError):
        disk.atomic_write(target, "new")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]  # the temp file is cleaned up


def test_replace_dir_swaps_directories(tmp_path):
    (tmp_path / "new").mkdir()
    (tmp_path / "new/index.html").write_text("new")
    (tmp_path / "htmlcov").mkdir()
    (tmp_path / "htmlcov/index.html").write_text("old")
    disk.replace_dir(tmp_path / "new", tmp_path / "htmlcov")
    assert (tmp_path / "htmlcov/index.html").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["htmlcov"]


def test_harness_killed_during_a_run_loses_nothing(throwaway):
    """SIGKILL the harness itself while its pytest runs: earlier events, reports and MAP.md stay intact."""
    throwaway.write("MAP.md", "# Roadmap\n\nWritten by hand.\n")
    throwaway.spec("mod-a", suites=["suites/tests/test_box.py"])
    assert throwaway.harness("run", "mod-a").exit_code == 0
    root = throwaway.root
    snapshot = {
        p: p.read_bytes()
        for p in [
            root / "MAP.md",
            root / "trace.yml",
            *(p for p in (root / "reports/mod-a").glob("*.*") if p.is_file()),
        ]
    }
    throwaway.write(
        "suites/tests/test_kill.py",
        """
        import os, signal

        def test_kill_the_harness():
            os.kill(os.getppid(), signal.SIGKILL)
    """,
    )
    throwaway.write(
        "suites/mod-a/module.yml",
        (root / "suites/mod-a/module.yml")
        .read_text()
        .replace("suites/tests/test_box.py", "suites/tests/test_kill.py"),
    )
    harness_exe = Path(sys.executable).parent / "harness"
    done = subprocess.run(
        [str(harness_exe), "run", "mod-a"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ},
    )
    assert done.returncode == -signal.SIGKILL
    for path, data in snapshot.items():
        if path.name == "trace.yml":
            assert path.read_bytes().startswith(data)  # only the new run_started event was appended
            assert [e["event"] for e in yaml.safe_load(path.read_text())] == [
                "run_started",
                "run_finished",
                "run_started",
            ]
        else:
            assert path.read_bytes() == data, path
