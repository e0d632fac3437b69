"""The outcome log: a line a run appended under the lock, the newest runs kept, several logs read as one
history, a damaged line a DataError naming where."""

import pytest

from harness.errors import DataError
from harness.spec.project import Project
from harness.store import outcome_log
from harness.store.outcome_log import RunOutcomes

A = "t/test_a.py::test_a"


def test_a_run_is_one_appended_line_and_past_a_quarter_more_the_newest_runs_are_kept(tmp_path):
    project, log = Project(tmp_path), tmp_path / "reports" / "m" / "outcomes.jsonl"
    sizes = []
    for n in range(7):
        record = RunOutcomes("s", f"2025-01-0{n + 1}", {A: "passed"}, f"r{n}")
        outcome_log.append(project, log, record, keep=4)
        sizes.append(len(log.read_text().splitlines()))
    assert sizes == [1, 2, 3, 4, 5, 4, 5]
    assert [r.run for r in outcome_log.read([log])] == ["r2", "r3", "r4", "r5", "r6"]


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("not json\n", "log.jsonl:1: not JSON"),
        ('{"state": "s", "at": "t"}\n', "log.jsonl:1: not a test outcome record"),
        ('{"state": "s", "at": "t", "tests": {"won": {}}}\n', "unknown outcome 'won'"),
    ],
)
def test_a_damaged_log_is_a_data_error(tmp_path, line, problem):
    (tmp_path / "log.jsonl").write_text(line)
    with pytest.raises(DataError, match=problem):
        outcome_log.read([tmp_path / "log.jsonl"])
