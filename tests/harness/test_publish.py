"""The one publish: what it writes beside a result, and overlapping commands that lose nothing."""

import subprocess
import sys

import pytest
import yaml

from harness.report import badge, markdown
from harness.spec.project import load_project
from harness.store import layout, mapfile
from harness.store import mutation as stored_mutation

MUTATION_SUITE = """\
from calc import ops


def test_add():
    assert ops.add(1, 2) == 3
    assert ops.add(2, 2) == 4


def test_sign():
    assert ops.sign(3) == 1
    assert ops.sign(-3) == -1
    assert ops.sign(0) == 0
"""


def test_a_run_publishes_the_badge_the_charts_and_the_map_row(throwaway):
    throwaway.spec("mod-a", suites=["suites/tests/test_ops.py"], targets={"calc/ops.py": 99})
    assert throwaway.harness("run", "mod-a").exit_code == 1
    result, out = throwaway.result("mod-a"), throwaway.root / "reports/mod-a"
    percent = result["overall"]["percent"]
    assert (out / "badge.svg").read_bytes() == badge.badge_svg("mod-a", "in_progress", percent)
    assert [chart["path"] for chart in result["charts"]] == ["charts/coverage-trend.svg", "charts/files.svg"]
    for chart in result["charts"]:
        assert (out / chart["path"]).read_bytes().startswith(b"<?xml")
        assert (
            markdown.markdown_image(chart["alt"], chart["path"]) in (out / "COMPLETION_STATUS.md").read_text()
        )
    block = (throwaway.root / "MAP.md").read_text().split(mapfile.BEGIN)[1].split(mapfile.END)[0]
    assert "[report](reports/mod-a/COMPLETION_STATUS.md)" in block
    assert (
        "](reports/coverage-trend.svg)" in block and (throwaway.root / "reports/coverage-trend.svg").is_file()
    )


def test_a_run_that_ends_without_figures_drops_the_files_chart(throwaway):
    throwaway.spec("mod-a", suites=["suites/tests/test_ops.py"])
    assert throwaway.harness("run", "mod-a").exit_code == 0
    files_chart = throwaway.root / "reports/mod-a/charts/files.svg"
    assert files_chart.is_file()
    assert throwaway.harness("run", "mod-a", "--", "-k", "nothing_is_called_this").exit_code == 1
    assert not files_chart.exists()
    assert [c["path"] for c in throwaway.result("mod-a")["charts"]] == ["charts/coverage-trend.svg"]


def test_without_anybadge_no_badge_is_written(throwaway, monkeypatch):
    monkeypatch.setitem(sys.modules, "anybadge", None)  # as if it were not installed
    throwaway.spec("mod-a", suites=["suites/tests/test_ops.py"])
    assert throwaway.harness("run", "mod-a").exit_code == 0
    assert not (throwaway.root / "reports/mod-a/badge.svg").exists()


def test_a_report_renders_again_without_touching_the_stored_result(throwaway):
    throwaway.spec("mod-a", suites=["suites/tests/test_ops.py"], targets={"calc/ops.py": 99})
    throwaway.harness("run", "mod-a")
    stored = (throwaway.root / "reports/mod-a/results.json").read_bytes()
    report = throwaway.root / "reports/mod-a/COMPLETION_STATUS.md"
    written = report.read_bytes()
    report.write_text("edited by hand")
    done = throwaway.harness("report", "mod-a")
    assert done.output == "reports/mod-a/COMPLETION_STATUS.md: In Progress\n"
    assert report.read_bytes() == written
    assert (throwaway.root / "reports/mod-a/results.json").read_bytes() == stored


@pytest.fixture
def contested(throwaway):
    """A module whose coverage target is missed (so it can be accepted) and whose mutation target is
    met, run and mutated once (so later mutation runs take their verdicts from the cache)."""
    throwaway.write("suites/m/test_ops.py", MUTATION_SUITE)
    throwaway.spec(
        "m", suites=["suites/m"], targets={"calc/ops.py": {"percent": 99, "lines": 10, "mutation": 10}}
    )
    assert throwaway.harness("run", "m").exit_code == 1
    assert throwaway.harness("mutate", "m", "--file", "calc/ops.py").exit_code == 0
    return throwaway


def _harness(root, *args: str) -> subprocess.Popen:
    cmd = [sys.executable, "-c", "from harness.cli import main; main()", "--root", str(root), *args]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_overlapping_run_accept_and_mutate_lose_nothing(contested):
    """Each round starts `run`, `accept` and `mutate --file` at once: whatever order they publish in, the
    record ends with the last run's figures, the acceptance and the stored mutation scores."""
    root = contested.root
    for round_, selection in enumerate([["-k", "add"], [], ["-k", "sign"]]):
        procs = [
            _harness(root, "run", "m", "-q", "--", *selection),
            _harness(root, "accept", "m", "--rationale", f"round {round_}"),
            _harness(root, "mutate", "m", "--file", "calc/ops.py"),
        ]
        outputs = [proc.communicate(timeout=120)[0] for proc in procs]
        assert [proc.returncode for proc in procs] == [0, 0, 0], outputs
        result = contested.result("m")
        events = yaml.safe_load((root / "trace.yml").read_text())
        last_run = [e for e in events if e["event"] == "run_finished"][-1]
        assert result["options"]["pytest_args"] == selection  # this round's run is the last one
        assert (result["overall"]["percent"], result["tests"]) == (last_run["overall"], last_run["tests"])
        accepted = [e for e in events if e["event"] == "variance_accepted"][-1]
        assert result["status"] == "complete_with_variance", outputs
        assert result["acceptance"]["rationale"] == accepted["rationale"] == f"round {round_}"
        mutation = stored_mutation.load(layout.files(load_project(root), "m"))
        assert (
            result["mutation"]["files"]["calc/ops.py"]["score"] == mutation["files"]["calc/ops.py"]["score"]
        )
        assert result["mutation"]["finished_at"] == mutation["finished_at"]
