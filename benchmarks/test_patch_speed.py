"""Benchmark: what `--changed` costs on a pull request that edits one function, beside whole runs.

    .venv/bin/python -m pytest benchmarks/test_patch_speed.py -p no:randomly -s

On a private copy of this checkout (`git archive HEAD`, a git repository of its own, PYTHONPATH at it,
as docs/architecture.md asks), with `patch: {coverage: 90, mutation: 80}` added to module 6.7's spec:

1. on `main`: `harness run module-6.7` (once to warm up, then timed: it keeps the record), then `harness
   mutate module-6.7 --file target_app/realtime/utils.py` (timed: the whole file's mutants);
2. on a branch that edits one function body of target_app/realtime/utils.py (`_flush_locked`), timed
   with an empty mutation cache each: `harness check module-6.7 --run --changed main` (the affected
   tests, the patch's mutants, the gate), then its parts alone, `harness run --changed` and `harness
   mutate --changed`;
3. the gate without the harness: `pytest --cov --cov-branch` of the module's suites, `coverage xml`
   and `diff-cover --compare-branch main --fail-under 90`, timed together.

Every harness command and pytest get `--workers 2` / `-n 2` (`BENCH_WORKERS`). Printed: the seconds,
how many tests and mutants each ran, and the ratios; nothing is asserted but that each command ran
(one round: the machine is shared, so each figure is one sample).
"""

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
WORKERS = os.environ.get("BENCH_WORKERS", "2")
MODULE = "module-6.7"
FILE = "target_app/realtime/utils.py"
SUITES = ["suites/module-6.6", "suites/module-6.7"]
OLD = """\
    ids = {"match_id": batch.match_id, "tournament_id": batch.tournament_id}
    data = {**payload, **ids, "sequence": batch.sequence}
"""
NEW = """\
    data = dict(payload)
    data.update(match_id=batch.match_id, tournament_id=batch.tournament_id, sequence=batch.sequence)
"""
GIT_ENV = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_AUTHOR_NAME": "Bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "Bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
}


def _copy(root: Path) -> dict:
    """This checkout's HEAD as a repository of its own on `main`; the environment to run in it."""
    root.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", "HEAD"], cwd=REPO, capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(root)], input=archive.stdout, check=True)
    spec_path = root / "suites" / MODULE / "module.yml"
    spec = yaml.safe_load(spec_path.read_text(encoding="utf-8"))
    spec["patch"] = {"coverage": 90, "mutation": 80}
    spec_path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    drop = ("DJANGO_SETTINGS_MODULE", "PYTEST_ADDOPTS", "COVERAGE_PROCESS_START", "GITHUB_ACTIONS")
    env = {k: v for k, v in os.environ.items() if k not in drop and k != "GITHUB_STEP_SUMMARY"}
    env.update(GIT_ENV, PYTHONPATH=str(root), PATH=f"{BIN}{os.pathsep}{env['PATH']}")
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "main"]):
        subprocess.run(["git", *args], cwd=root, env=env, check=True, capture_output=True)
    return env


def _timed(argv: list[str], root: Path, env: dict, ok=(0, 1)) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=root, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    assert done.returncode in ok, f"{argv}: {done.returncode}\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
    return seconds, done.stdout + done.stderr


def _harness(*args: str) -> list[str]:
    return [str(BIN / "harness"), *args]


def _forget_verdicts(root: Path) -> None:
    """No verdict from an earlier command: each timed mutation run judges its mutants itself."""
    work = root / "reports" / MODULE / ".work"
    for name in ("mutation-cache.json", "mutation-verdicts.jsonl", "changed-mutants.json"):
        (work / name).unlink(missing_ok=True)


def _grep(pattern: str, text: str) -> str:
    found = re.search(pattern, text, re.M)
    return found.group(0) if found else "?"


def test_patch_speed(tmp_path, bench_print):
    root = tmp_path / "repo"
    env = _copy(root)
    workers = ["--workers", WORKERS]
    _timed(_harness("run", MODULE, "-q", *workers), root, env)  # warm-up: bytecode, Django's first start
    full_run, _ = _timed(_harness("run", MODULE, "-q", *workers), root, env)
    whole_file, mutated = _timed(_harness("mutate", MODULE, "--file", FILE, *workers), root, env)

    subprocess.run(["git", "checkout", "-q", "-b", "feature"], cwd=root, env=env, check=True)
    path = root / FILE
    text = path.read_text(encoding="utf-8")
    assert OLD in text
    path.write_text(text.replace(OLD, NEW), encoding="utf-8")
    subprocess.run(["git", "commit", "-q", "-am", "edit _flush_locked"], cwd=root, env=env, check=True)

    _forget_verdicts(root)
    check, checked = _timed(_harness("check", MODULE, "--run", "--changed", "main", *workers), root, env)
    _forget_verdicts(root)
    run, ran = _timed(_harness("run", MODULE, "--changed", "main", *workers), root, env)
    _forget_verdicts(root)
    patch_mutants, patched = _timed(_harness("mutate", MODULE, "--changed", "main", *workers), root, env)

    cover = [sys.executable, "-m", "pytest", *SUITES, "-q", "-p", "no:randomly", "-n", WORKERS]
    cover += ["--cov=target_app/realtime", "--cov-branch", "--cov-report="]
    pytest_cov, _ = _timed(cover, root, env)
    xml, _ = _timed([str(BIN / "coverage"), "xml", "-o", "coverage.xml"], root, env)
    diff_cover = [str(BIN / "diff-cover"), "coverage.xml", "--compare-branch=main", "--fail-under=90"]
    diff, diffed = _timed(diff_cover, root, env, ok=(0, 1))
    gate = pytest_cov + xml + diff

    rows = [
        ("harness run (whole, keeps the record)", full_run, ""),
        ("harness mutate --file utils.py (whole file)", whole_file, _grep(r"Mutating .*", mutated)),
        ("harness check --run --changed main", check, _grep(r"^Affected tests: .*", checked)),
        ("", None, _grep(r"^patch: patch coverage .*", checked)),
        ("  harness run --changed main", run, _grep(r"tests \(affected by the change\).*", ran)),
        ("  harness mutate --changed main", patch_mutants, _grep(r"Mutating .*", patched)),
        ("pytest --cov --cov-branch (whole suites)", pytest_cov, ""),
        ("  + coverage xml + diff-cover --compare-branch main", gate, _grep(r"^Coverage: .*", diffed)),
    ]
    ratios = [
        ("affected-tests run / full run (harness run)", run / full_run),
        ("patch mutation / whole-file mutation (utils.py)", patch_mutants / whole_file),
        ("check --run --changed / (pytest --cov + diff-cover)", check / gate),
        ("run --changed / (pytest --cov + diff-cover): coverage only", run / gate),
    ]
    bench_print("")
    bench_print(f"--changed on {FILE} (_flush_locked edited), {MODULE}, workers {WORKERS}")
    bench_print(f"  load average {os.getloadavg()[0]:.1f} at the end; one sample each")
    for label, seconds, note in rows:
        bench_print(f"  {label:54} {'' if seconds is None else f'{seconds:7.1f}s':>8}  {note}")
    for label, ratio in ratios:
        bench_print(f"  {label:62} {ratio:6.2f}")
    shutil.rmtree(root, ignore_errors=True)
