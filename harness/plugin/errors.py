"""The plugin's one exception family: configuration and usage mistakes users can fix."""


class PluginError(Exception):
    """Base of every error the harness plugin raises on purpose."""


class PluginConfigError(PluginError):
    """An ini option of the harness plugin is missing or wrong; the message names the option."""


class FixtureUsageError(PluginError):
    """A fixture was called in a way it cannot honour (for example sync DB access inside an event loop)."""
