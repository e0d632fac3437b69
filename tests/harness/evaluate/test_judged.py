"""What an acceptance logs of a stored result, and the results it refuses (pure)."""

import pytest

from harness.errors import UsageError
from harness.evaluate.judged import acceptance
from harness.store import trace

SHORT = {
    "status": "in_progress",
    "unmet": ["overall"],
    "files": {},
    "overall": {"percent": 40.0, "target": 50.0, "gating_met": False},
}


def test_an_acceptance_logs_the_unmet_keys_and_their_carry_forward_items():
    accepted, carried = acceptance("mod-a", SHORT, "  later  ", "c0ffee")
    assert accepted == trace.VarianceAccepted(
        module="mod-a", commit="c0ffee", rationale="later", accepted=("overall",), overall=40.0
    )
    item = {"file": "overall", "percent": 40.0, "target": {"percent": 50.0}, "missing": ""}
    assert carried == trace.CarryForwardCreated(module="mod-a", commit="c0ffee", items=(item,))


@pytest.mark.parametrize(
    ("result", "message"),
    [
        (
            {**SHORT, "status": "failed", "reason": "tests failed"},
            "cannot accept a Failed result (tests failed)",
        ),
        ({**SHORT, "unmet": []}, "every target is met; there is no variance to accept"),
    ],
)
def test_a_failed_result_or_one_with_nothing_unmet_has_no_variance_to_accept(result, message):
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)")):
        acceptance("mod-a", result, "later", None)
