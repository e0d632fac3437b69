"""Imports what the end of a run needs in a background thread, while pytest runs in its own process."""

import contextlib
import importlib
import threading

# The drawing module pulls in matplotlib (about half a second), the others coverage.py's reporters and
# the report templates. Each is imported again where it is used, so a failure here changes nothing:
# matplotlib missing or broken is reported by the charts code, a broken template by the report.
MODULES = (
    "harness.report.plot",
    "coverage.jsonreport",
    "coverage.xmlreport",
    "coverage.html",
    "harness.report.markdown",
)


def start() -> threading.Thread:
    """Start importing; join the thread before using what it imports (it only ever fills caches)."""
    thread = threading.Thread(target=_warm, name="harness-prewarm", daemon=True)
    thread.start()
    return thread


def _warm() -> None:
    for name in MODULES:
        with contextlib.suppress(Exception):
            importlib.import_module(name)
    with contextlib.suppress(Exception):
        from harness.report import markdown

        markdown.compile_templates()
