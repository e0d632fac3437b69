"""target_app processes that tests start join the test session's coverage, when the session is measured.

A served app runs target_app in another process, which pytest-cov (7 dropped its subprocess support) and
`harness run` would not measure: a suite that only talks to a server would show its code as never run.
When the session is measured, each process gets a coverage config mirroring the session's (source,
branch, data file) in parallel mode, through coverage.py's own start-up hook (`COVERAGE_PROCESS_START`,
run by the `.pth` file coverage installs). Its data file lands beside the session's, and pytest-cov
combines every `.coverage.*` there when the session ends. A served process must therefore end before
the session does: the fixtures stop it at their teardown (SIGTERM; `sigterm = true` saves the data first).
"""

from __future__ import annotations

import os
from pathlib import Path

from harness.run.plugin import subprocess_context


def coverage_env(workdir: Path, nodeid: str) -> dict[str, str]:
    """Environment entries that make a Python process measured like this session; {} when it is not measured.

    `nodeid` is the test that starts the process: under `harness run`, the process's lines carry that
    test's step label (a static context), so they count for its steps only.
    """
    try:
        import coverage
    except ImportError:
        return {}
    session = coverage.Coverage.current()
    if session is None:
        return {}
    rcfile = workdir / "served-coverage.ini"
    rcfile.write_text(_config(session, subprocess_context(nodeid)))
    return {"COVERAGE_PROCESS_START": str(rcfile)}


def _config(session, context: str | None) -> str:
    run = {
        "parallel": "true",
        "sigterm": "true",
        "branch": str(bool(session.get_option("run:branch"))).lower(),
        "data_file": os.path.abspath(session.get_option("run:data_file")),
        "source": _listed(_absolute(entry) for entry in session.get_option("run:source") or ()),
        "source_pkgs": _listed(session.get_option("run:source_pkgs") or ()),
        "omit": _listed(session.get_option("run:omit") or ()),
        "disable_warnings": _listed(["no-data-collected", "module-not-measured"]),
    }
    if context:
        run["context"] = context
    lines = ["[run]", *(f"{key} = {value}" for key, value in run.items() if value)]
    return "\n".join(lines) + "\n"


def _absolute(entry: str) -> str:
    # A source directory is relative to pytest's working directory; a package name stays as it is.
    return os.path.abspath(entry) if os.path.isdir(entry) else entry


def _listed(values) -> str:
    return "".join(f"\n    {value}" for value in values)
