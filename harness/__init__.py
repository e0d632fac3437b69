"""harness: module-scoped test runs, per-file coverage targets and completion reports."""

__version__ = "0.1.0"
