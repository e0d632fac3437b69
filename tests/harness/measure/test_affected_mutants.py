"""Never fewer failures than the full run: real mutants of target_app, each treated as a change.

A private copy of target_app and one of the bundled suites is recorded by a real `harness run` (with
`record_tests: true`); then, for a fixed sample of mutants of `realtime/utils.py` (spread over the
file), the suites run whole and as `affected.select` chooses, and both runs must fail or pass alike.
The slowest test of this folder (a harness run and up to ten pytest runs of a 40-test suite on
target_app, about 20 s of CPU), bounded by the sample's size.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from harness.cli import main
from harness.measure import affected
from harness.mutation.generate import generate
from harness.run.env import SELECT_ENV
from harness.spec.catalog import find_spec
from harness.spec.preflight import check_spec
from harness.spec.project import load_project

REPO = Path(__file__).parents[3]
SUITES = ["suites/module-6.7/test_step1_utils_batching.py"]
TARGET = "target_app/realtime/utils.py"
SAMPLE = 5

pytest.importorskip("libcst")  # the mutation extra makes the mutants


@pytest.fixture(scope="module")
def copy(tmp_path_factory):
    """target_app, the suites' shared files and the suite, in a private directory, recorded."""
    root = tmp_path_factory.mktemp("affected") / "proj"
    ignore = shutil.ignore_patterns("__pycache__", "*.sqlite3")
    shutil.copytree(REPO / "target_app", root / "target_app", ignore=ignore)
    for rel in ["pyproject.toml", "suites/conftest.py", "suites/realtime_checks.py", *SUITES]:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / rel, root / rel)
    spec = {
        "id": "mod-x",
        "title": "X",
        "source": "target_app/realtime",
        "suites": SUITES,
        "record_tests": True,
    }
    (root / "suites/mod-x").mkdir()
    (root / "suites/mod-x/module.yml").write_text(yaml.safe_dump(spec), encoding="utf-8")
    outcome = CliRunner().invoke(main, ["--root", str(root), "run", "mod-x", "-q"], catch_exceptions=False)
    assert "passed, 0 failed" in outcome.output, outcome.output
    return root


def _fails(root: Path, selection: Path | None = None) -> bool:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    args = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-x",
        "-p",
        "no:randomly",
        "-p",
        "no:cacheprovider",
        *SUITES,
    ]
    if selection is not None:
        env[SELECT_ENV] = str(selection)
        args += ["-p", "harness.run.plugin"]
    done = subprocess.run(args, cwd=root, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode in (0, 1, 5), done.stdout[-2000:]  # 5: the selection ran no test
    return done.returncode == 1


def test_a_selected_run_fails_exactly_when_the_full_run_fails(copy, tmp_path):
    original = (copy / TARGET).read_text(encoding="utf-8")
    in_functions = [m for m in generate(TARGET, original) if m.function]
    sample = in_functions[:: len(in_functions) // SAMPLE][:SAMPLE]
    project = load_project(copy)
    spec = find_spec(project, "mod-x")
    seen = []
    try:
        for mutant in sample:
            (copy / TARGET).write_text(mutant.text, encoding="utf-8")
            selection = affected.select(project, spec.id, spec.path.digest(), check_spec(project, spec))
            full = _fails(copy)
            if selection.everything:
                chosen = full  # the harness runs every test: the same run
            else:
                path = tmp_path / "selection.json"  # outside the project: a new file there is a change
                path.write_text(json.dumps(selection.to_json()), encoding="utf-8")
                chosen = _fails(copy, path)
            seen.append((mutant.line, mutant.operator, selection.everything, full, chosen))
    finally:
        (copy / TARGET).write_text(original, encoding="utf-8")
    assert all(full == chosen for *_, full, chosen in seen), seen
    selective = [s for s in seen if not s[2]]
    assert len(selective) >= 3 and any(s[3] for s in selective), seen  # the sample tests the selection
