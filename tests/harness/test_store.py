"""Nothing is lost: atomic writes, trace.yml under a lock, the MAP.md block, and kills mid-write."""

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from harness.errors import DataError
from harness.store import disk

EVENT = {"at": "2026-01-01T00:00:00+00:00", "event": "run_started", "module": "m"}


def _child(script: str, *args: str) -> subprocess.CompletedProcess:
    """Run a Python snippet in a fresh process (so it can SIGKILL itself at a chosen point)."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script), *args], capture_output=True, text=True, timeout=60
    )


KILL_AT_REPLACE = """
    import os, signal, sys
    from pathlib import Path
    from harness.store import disk
    os.replace = lambda *a: os.kill(os.getpid(), signal.SIGKILL)  # die between temp write and replace
"""

KILL_MID_WRITE = """
    import os, signal, sys
    from pathlib import Path
    from harness.store import disk
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


@pytest.mark.parametrize("killer", [KILL_AT_REPLACE, KILL_MID_WRITE], ids=["at-replace", "mid-write"])
def test_killed_trace_append_leaves_earlier_events(tmp_path, killer):
    trace, lock = tmp_path / "trace.yml", tmp_path / "reports/.harness.lock"
    disk.append_events(trace, lock, [EVENT, {**EVENT, "event": "run_finished"}])
    before = trace.read_bytes()
    done = _child(
        killer
        + """
    disk.append_events(Path(sys.argv[1]), Path(sys.argv[2]), [{"event": "never", "module": "m"}])
    """,
        str(trace),
        str(lock),
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert trace.read_bytes() == before
    disk.append_events(trace, lock, [{**EVENT, "event": "after"}])  # the lock was released by the kill
    assert [e["event"] for e in disk.read_trace(trace)] == ["run_started", "run_finished", "after"]


@pytest.mark.parametrize("killer", [KILL_AT_REPLACE, KILL_MID_WRITE], ids=["at-replace", "mid-write"])
def test_killed_map_update_leaves_map_intact(tmp_path, killer):
    map_md, lock = tmp_path / "MAP.md", tmp_path / ".lock"
    map_md.write_bytes(b"# Roadmap\r\n\r\nhand text\r\n")
    disk.update_map(map_md, lock, lambda: "| old |")
    before = map_md.read_bytes()
    done = _child(
        killer
        + """
    disk.update_map(Path(sys.argv[1]), Path(sys.argv[2]), lambda: "| new |")
    """,
        str(map_md),
        str(lock),
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert map_md.read_bytes() == before


def test_concurrent_appends_lose_no_event(tmp_path):
    trace, lock = tmp_path / "trace.yml", tmp_path / ".lock"
    script = """
        import sys
        from pathlib import Path
        from harness.store import disk
        for i in range(10):
            event = {"event": "e", "writer": int(sys.argv[3]), "i": i}
            disk.append_events(Path(sys.argv[1]), Path(sys.argv[2]), [event])
    """
    procs = [
        subprocess.Popen([sys.executable, "-c", textwrap.dedent(script), str(trace), str(lock), str(w)])
        for w in range(4)
    ]
    assert [p.wait(timeout=60) for p in procs] == [0] * 4
    events = yaml.safe_load(trace.read_text())
    assert sorted((e["writer"], e["i"]) for e in events) == [(w, i) for w in range(4) for i in range(10)]
    for w in range(4):  # each writer's events stay in its own order
        assert [e["i"] for e in events if e["writer"] == w] == list(range(10))


def test_append_keeps_existing_text_and_refuses_broken_yaml(tmp_path):
    trace, lock = tmp_path / "trace.yml", tmp_path / ".lock"
    trace.write_text("# kept comment\n- {event: manual, module: m}")
    disk.append_events(trace, lock, [EVENT])
    assert trace.read_text().startswith("# kept comment\n- {event: manual, module: m}\n- at:")
    trace.write_text("- [unclosed\n")
    with pytest.raises(DataError, match=r"trace\.yml: not valid YAML at line 2: .*; fix or move it$") as err:
        disk.append_events(trace, lock, [EVENT])
    assert "\n" not in str(err.value)  # one line, as every exit-2 message
    assert trace.read_text() == "- [unclosed\n"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "# Roadmap\n",
        "# Roadmap",
        "# Roadmap\n\n",
        "\ufeff# Roadmap\r\n\r\nOwn text  \r\n",
    ],
)
def test_map_block_is_added_without_touching_other_text(text):
    out = disk.splice_block(text, "| row |\n", "MAP.md")
    assert out.startswith(text)
    assert out[len(text) :].lstrip("\n") == f"{disk.BEGIN}\n| row |\n{disk.END}\n"


def test_map_block_is_replaced_and_outside_bytes_are_identical(tmp_path):
    map_md = tmp_path / "MAP.md"
    head = "# Roadmap\r\n\r\nIntro with trailing spaces   \r\n\t<- a tab\r\n"
    tail = "\r\n## Later\r\nno newline at end"
    map_md.write_bytes(f"{head}{disk.BEGIN}\nold rows\n{disk.END}{tail}".encode())
    disk.update_map(map_md, tmp_path / ".lock", lambda: "| new rows |")
    raw = map_md.read_bytes()
    assert raw == f"{head}{disk.BEGIN}\n| new rows |\n{disk.END}{tail}".encode()


@pytest.mark.parametrize(
    "text",
    [
        f"{disk.END}\n{disk.BEGIN}\n",
        f"{disk.BEGIN}\nno end\n",
        f"{disk.BEGIN}\n{disk.END}\n{disk.BEGIN}\n{disk.END}\n",
    ],
)
def test_broken_markers_are_refused_and_map_untouched(tmp_path, text):
    map_md = tmp_path / "MAP.md"
    map_md.write_text(text)
    with pytest.raises(DataError, match="fix the markers by hand"):
        disk.update_map(map_md, tmp_path / ".lock", lambda: "| x |")
    assert map_md.read_text() == text


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
