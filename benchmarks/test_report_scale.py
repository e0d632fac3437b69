"""Benchmark: `harness report` and `harness diff` on stored results of 1,000 and 10,000 files.

    .venv/bin/python -m pytest benchmarks/test_report_scale.py -p no:randomly -s

Each command runs as users run it (the console script, a fresh process), alternating sizes so load
on the machine hits both alike; the closing table prints the median wall time per size, the
10,000/1,000 ratio (linear growth is 10x or less) and the report's size. Nothing is asserted but
that the commands succeed.
"""

import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.synthetic import large_result
from harness.evaluate import shape

SIZES = (1000, 10000)
REPEATS = 3


def _project(root: Path) -> Path:
    (root / "pkg").mkdir(parents=True)
    (root / "pyproject.toml").write_text('[project]\nname = "big"\nversion = "0"\n')
    for n in SIZES:
        spec = root / "suites" / f"big-{n}" / "module.yml"
        spec.parent.mkdir(parents=True)
        spec.write_text(f"id: big-{n}\ntitle: {n} files\nsource: pkg\nsuites: [suites]\n")
        out = root / "reports" / f"big-{n}"
        out.mkdir(parents=True)
        (out / "shape.json").write_text(shape.dumps(large_result(n)))
    return root


def _timed(root: Path, *args: str) -> float:
    harness = str(Path(sys.executable).parent / "harness")
    started = time.perf_counter()
    subprocess.run([harness, *args], cwd=root, check=True, capture_output=True)
    return time.perf_counter() - started


def test_report_and_diff_grow_linearly(tmp_path, bench_print):
    root = _project(tmp_path)
    times: dict[tuple[str, int], list[float]] = {}
    for _ in range(REPEATS):
        for n in SIZES:
            times.setdefault(("report", n), []).append(_timed(root, "report", f"big-{n}"))
            times.setdefault(("diff", n), []).append(_timed(root, "diff", f"big-{n}", f"big-{n}"))
    bench_print("")
    bench_print(
        f"{'command':10} {'1,000 files':>12} {'10,000 files':>13} {'ratio':>7}  report size at 10,000"
    )
    size = (root / "reports" / "big-10000" / "COMPLETION_STATUS.md").stat().st_size
    for command in ("report", "diff"):
        small, large = (statistics.median(times[(command, n)]) for n in SIZES)
        note = f"{size / 1e6:.2f} MB" if command == "report" else ""
        bench_print(f"{command:10} {small:11.2f}s {large:12.2f}s {large / small:6.1f}x  {note}")
