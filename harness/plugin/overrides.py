"""`harness_rate_limits`: per-test overrides of the app's rate-limit settings, by short name."""

from __future__ import annotations

from typing import Any

from .errors import FixtureUsageError


class RateLimits:
    """Sets Django settings `<prefix><NAME>` through pytest-django's `settings` (restored after the test).

    `harness_rate_limits(conn_per_user=1, msg_rate=5)` sets `WS_CONN_PER_USER` and
    `WS_MSG_RATE`; `harness_rate_limits.msg_burst = 2` sets one; reading an attribute
    returns the current value. Only settings that exist can be set, so typos fail.
    """

    def __init__(self, settings: Any, prefix: str) -> None:
        object.__setattr__(self, "_settings", settings)
        object.__setattr__(self, "_prefix", prefix)

    def __call__(self, **values: Any) -> RateLimits:
        for name, value in values.items():
            self.set(self.setting_name(name), value)
        return self

    def __setattr__(self, name: str, value: Any) -> None:
        self.set(self.setting_name(name), value)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._settings, self._existing(self.setting_name(name)))

    def setting_name(self, name: str) -> str:
        """The Django setting a short name stands for: `conn_per_user` -> `WS_CONN_PER_USER`."""
        return f"{self._prefix}{name.upper()}"

    def set(self, setting: str, value: Any) -> None:
        """Override the Django setting `setting` (full name) for this test."""
        setattr(self._settings, self._existing(setting), value)

    def _existing(self, setting: str) -> str:
        from django.conf import settings

        if not hasattr(settings, setting):
            known = sorted({name for name in dir(settings) if name.startswith(self._prefix)})
            raise FixtureUsageError(
                f"harness_rate_limits: there is no Django setting {setting}; "
                f"settings starting with {self._prefix!r}: {', '.join(known) or 'none'}"
            )
        return setting
