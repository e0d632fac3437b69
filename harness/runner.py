"""Runs a module's suites in `python -m pytest` subprocesses under pytest-cov, one per selection."""

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from harness.spec import Suite

_SUMMARY_WORDS = ("passed", "failed", "error", "skipped", "no tests ran", "deselected")


@dataclass(frozen=True)
class RunOptions:
    """How to run: xdist workers, a shard (index, count), extra pytest args, live output."""

    workers: int | None = None
    shard: tuple[int, int] | None = None
    pytest_args: tuple[str, ...] = ()
    verbose: bool = False


@dataclass(frozen=True)
class Invocation:
    """Suites that share one `-k` / `-m` selection and so run in one pytest process."""

    paths: tuple[str, ...]
    k: str | None = None
    markers: str | None = None


@dataclass(frozen=True)
class Session:
    """What the pytest processes left behind."""

    exit_codes: tuple[int, ...]
    junit_files: tuple[Path, ...]
    data_file: Path
    log_file: Path
    summaries: tuple[str, ...]


def plan(suites: tuple[Suite, ...]) -> list[Invocation]:
    """Group suites by selection, keeping the order in which selections first appear."""
    groups: dict[tuple, list[str]] = {}
    for suite in suites:
        groups.setdefault((suite.k, suite.markers), []).append(suite.path)
    return [Invocation(tuple(paths), k, m) for (k, m), paths in groups.items()]


def command(
    inv: Invocation, sources: tuple[str, ...], junit: Path, options: RunOptions, append: bool
) -> list[str]:
    """The pytest command line for one invocation."""
    cmd = [sys.executable, "-m", "pytest", *inv.paths]
    cmd += [f"--cov={source}" for source in sources]
    cmd += ["--cov-branch", "--cov-report=", f"--junitxml={junit}", "-o", "junit_family=xunit1"]
    if append:
        cmd.append("--cov-append")
    if inv.k:
        cmd += ["-k", inv.k]
    if inv.markers:
        cmd += ["-m", inv.markers]
    if options.workers:
        cmd += ["-n", str(options.workers)]
    if options.shard:
        cmd += ["-p", "harness.shard"]
    return cmd + list(options.pytest_args)


def run_session(
    root: Path,
    suites: tuple[Suite, ...],
    sources: tuple[str, ...],
    workdir: Path,
    options: RunOptions,
    echo: Callable[[str], None],
) -> Session:
    """Run every invocation, all writing one coverage data file in `workdir`."""
    workdir.mkdir(parents=True, exist_ok=True)
    data_file, log_file = workdir / ".coverage", workdir / "pytest.log"
    env = {**os.environ, "COVERAGE_FILE": str(data_file)}
    if options.shard:
        env["HARNESS_SHARD"] = f"{options.shard[0]}/{options.shard[1]}"
    codes, junits, summaries = [], [], []
    for number, inv in enumerate(plan(suites), 1):
        junit = workdir / f"junit-{number}.xml"
        echo(f"  pytest {' '.join(inv.paths)}{_selection(inv)}")
        code, summary = _run(
            command(inv, sources, junit, options, append=number > 1), root, env, log_file, options
        )
        echo(f"    {summary or f'pytest exited with status {code}'}")
        codes.append(code)
        summaries.append(summary)
        junits.append(junit)
    return Session(tuple(codes), tuple(junits), data_file, log_file, tuple(summaries))


def _selection(inv: Invocation) -> str:
    parts = [f" -k {inv.k!r}" if inv.k else "", f" -m {inv.markers!r}" if inv.markers else ""]
    return "".join(parts)


def _run(cmd: list[str], root: Path, env: dict, log_file: Path, options: RunOptions) -> tuple[int, str]:
    """Run one pytest process, copying its output to the log (and the terminal when verbose)."""
    summary = ""
    with log_file.open("a", encoding="utf-8") as log:
        log.write(f"$ {' '.join(cmd)}\n")
        log.flush()
        with subprocess.Popen(
            cmd,
            cwd=root,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            encoding="utf-8",
            errors="replace",
        ) as proc:
            try:
                for line in proc.stdout:
                    log.write(line)
                    if options.verbose:
                        print(line, end="", flush=True)
                    stripped = line.strip().strip("=").strip()
                    if any(word in stripped for word in _SUMMARY_WORDS) and " in " in stripped:
                        summary = stripped
                code = proc.wait()
            except BaseException:
                # Interrupted (Ctrl-C, SIGTERM): pytest must not run on alone into a work dir that is
                # about to be removed.
                proc.terminate()
                raise
    return code, summary
