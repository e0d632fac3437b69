"""pytest plugin for the run that maps tests to lines (`-p harness.mutation.probe`): durations, failures."""

import json
import os
from pathlib import Path

_DURATIONS: dict[str, float] = {}
_FAILED: set[str] = set()


def pytest_runtest_logreport(report) -> None:
    _DURATIONS[report.nodeid] = _DURATIONS.get(report.nodeid, 0.0) + report.duration
    if report.failed:
        _FAILED.add(report.nodeid)


def pytest_sessionfinish(session) -> None:
    target = os.environ.get("HARNESS_MUTATION_PROBE")
    if target:
        data = {"durations": _DURATIONS, "failed": sorted(_FAILED)}
        Path(target).write_text(json.dumps(data), encoding="utf-8")
