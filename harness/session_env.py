"""The environment variables through which the harness configures the pytest plugin it loads."""

RECORDS_ENV = "HARNESS_RECORDS"  # where harness.session_plugin writes its JSON-lines test records
SHARD_ENV = "HARNESS_SHARD"  # `K/N`: keep only the K-th of N slices of the collected tests
