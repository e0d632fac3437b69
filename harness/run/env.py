"""The environment variables through which the harness configures the pytest plugin it loads."""

RECORDS_ENV = "HARNESS_RECORDS"  # where harness.run.plugin writes its JSON-lines test records
SHARD_ENV = "HARNESS_SHARD"  # `K/N`: keep only the K-th of N slices of the collected tests
# JSON `[[step number, [suite paths]], ...]`: label each test's coverage context with the steps it is in
STEPS_ENV = "HARNESS_STEPS"
# `1`: label each test's coverage context with its node id too (`<step label> <node id>`): which test ran
# which line, kept for `harness mutate` (harness.measure.per_test)
TEST_CONTEXTS_ENV = "HARNESS_TEST_CONTEXTS"
STEP_CONTEXT = "harness-steps:"  # + the step numbers, e.g. `harness-steps:1,3`; a test in no step: none
# An integer: run the tests in the order this seed shuffles them to (harness.run.order.shuffled)
SHUFFLE_ENV = "HARNESS_SHUFFLE_SEED"
# A file of node ids, one a line: run exactly these tests, in this order (a replay; harness.run.order)
ORDER_ENV = "HARNESS_ORDER"
# A directory: each pytest process of a session that records per-test contexts writes `<pid>.json` into
# it, the files it imported and opened and the directories it listed (harness.measure.per_test)
READS_ENV = "HARNESS_READS"
READS_DIR = "reads"  # its name in the session's work directory
# A JSON file `{"tests": [node ids], "files": [test files]}`: run only those (`harness run --changed`)
SELECT_ENV = "HARNESS_SELECT"
