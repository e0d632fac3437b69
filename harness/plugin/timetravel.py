"""`harness_time_travel`: moves wall-clock time (`time.time()`, `datetime.now()`) with time-machine."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any


class TimeTravel:
    """Moves wall-clock time for expiry checks such as JWT `exp`; the event-loop clock is untouched.

    Time keeps ticking from wherever it was moved to. Travel starts on the first call
    and ends with the test.
    """

    def __init__(self) -> None:
        self._travel: Any = None
        self._traveller: Any = None

    def shift(self, seconds: float | dt.timedelta) -> None:
        """Move `time.time()` forward (or back, if negative) by `seconds`."""
        self._start()
        self._traveller.shift(seconds)

    def move_to(self, when: float | dt.datetime | str, *, tick: bool = True) -> None:
        """Jump to `when` (a timestamp, an aware datetime or an ISO string)."""
        self._start()
        self._traveller.move_to(when, tick=tick)

    def now(self) -> float:
        """The current (possibly moved) `time.time()`."""
        return time.time()

    def _start(self) -> None:
        if self._traveller is None:
            import time_machine

            self._travel = time_machine.travel(time.time(), tick=True)
            self._traveller = self._travel.start()

    def _stop(self) -> None:
        if self._travel is not None:
            self._travel.stop()
            self._travel = self._traveller = None
