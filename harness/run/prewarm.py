"""Imports what the end of a run needs in a background thread, while pytest runs in its own process."""

import contextlib
import importlib
import threading
from collections.abc import Callable, Iterable


def start(modules: Iterable[str], then: Callable[[], None] = lambda: None) -> threading.Thread:
    """Start importing `modules` and then calling `then()` (compiling templates, say); join the thread
    before using what it imports (it only ever fills caches).

    Each module is imported again where it is used, so a failure here changes nothing: matplotlib
    missing or broken is reported by the charts code, a broken template by the report.
    """
    thread = threading.Thread(target=_warm, args=(tuple(modules), then), name="harness-prewarm", daemon=True)
    thread.start()
    return thread


def _warm(modules: tuple[str, ...], then: Callable[[], None]) -> None:
    for name in modules:
        with contextlib.suppress(Exception):
            importlib.import_module(name)
    with contextlib.suppress(Exception):
        then()
