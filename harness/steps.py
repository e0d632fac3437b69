"""Which tests of a module run belong to which step: the tests its suites (and selections) ran."""

from pathlib import Path

from harness.outcomes import iter_records
from harness.spec import Step, Suite


def step_tests(steps: tuple[Step, ...], processes: list[dict]) -> dict[int, list[str]]:
    """Per step number, the node ids its suites ran, read from each pytest process's records."""
    ran = [(process, _nodeids(process["records"])) for process in processes]
    return {
        number: sorted(
            {
                nodeid
                for process, nodeids in ran
                for suite in step.suites
                if (suite.k, suite.markers) == (process["k"], process["markers"])
                for nodeid in nodeids
                if within(nodeid, suite)
            }
        )
        for number, step in enumerate(steps, 1)
    }


def within(nodeid: str, suite: Suite) -> bool:
    """Whether a test's node id lies under a suite path (a directory, a file or a node id)."""
    path = suite.path.removeprefix("./").rstrip("/")
    return nodeid == path or nodeid.startswith((f"{path}/", f"{path}::", f"{path}["))


def _nodeids(records: str) -> set[str]:
    return {
        record["nodeid"]
        for _, record in iter_records(Path(records))
        if record.get("event") == "test" and not record.get("collection")
    }
