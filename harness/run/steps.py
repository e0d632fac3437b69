"""Which tests of a module run belong to which step, told to the session plugin before the tests run."""

from harness.spec.model import Step


def step_paths(steps: tuple[Step, ...], k: str | None, markers: str | None) -> list[list]:
    """Per step number, the suite paths whose tests it takes from a pytest process with this selection.

    A step's tests are those its suites' paths hold, run under the same `-k` / `-m` selection.
    """
    return [
        [number, [suite.path for suite in step.suites if (suite.k, suite.markers) == (k, markers)]]
        for number, step in enumerate(steps, 1)
    ]
