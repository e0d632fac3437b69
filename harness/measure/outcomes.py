"""Test outcomes from the session plugin's records: counts by the file and class that collected each test."""

from dataclasses import dataclass, field
from pathlib import Path

from harness.run.records import iter_records
from harness.spec.nodeids import split_nodeid

OUTCOMES = ("passed", "failed", "skipped", "errors")
SUBTEST_OUTCOMES = ("passed", "failed", "skipped")


@dataclass
class Tally:
    """Counts of outcomes, with the skip reasons and failure messages behind them, and of subtests."""

    passed: int = 0
    failed: int = 0
    skipped: int = 0
    errors: int = 0
    skips: list[dict] = field(default_factory=list)
    failures: list[dict] = field(default_factory=list)
    subtests: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SUBTEST_OUTCOMES, 0))

    def counts(self) -> dict[str, int]:
        """The tests' outcomes (subtests are counted apart: `subtests`)."""
        return {name: getattr(self, name) for name in OUTCOMES}

    def add(self, outcome: str, record: dict, subtests: dict | None = None) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)
        for name in SUBTEST_OUTCOMES:
            self.subtests[name] += int((subtests or {}).get(name, 0))
        if outcome == "skipped":
            self.skips.append(record)
        elif outcome in ("failed", "errors"):
            self.failures.append({**record, "outcome": outcome})


@dataclass
class SuiteFile:
    """One collecting file's tally and a tally per class ("" for module-level tests)."""

    tally: Tally = field(default_factory=Tally)
    classes: dict[str, Tally] = field(default_factory=dict)


@dataclass
class Outcomes:
    """Every test of a session: totals, per collecting file, each test's duration by node id, the
    session's start-up (the longest from the session plugin's loading to the end of collection), and
    how many tests the selection (`-k`, `-m`, `--deselect`) left out."""

    totals: Tally = field(default_factory=Tally)
    files: dict[str, SuiteFile] = field(default_factory=dict)
    durations: dict[str, float] = field(default_factory=dict)
    startup: float = 0.0
    deselected: int = 0

    def failed(self) -> set[str]:
        """The node ids of the tests that failed or errored (a collection error: `<file> (collection)`)."""
        return {detail["test"] for detail in self.totals.failures}

    def add(self, record: dict) -> None:
        nodeid = record["nodeid"]
        file, cls = split_nodeid(nodeid)
        entry = self.files.setdefault(file, SuiteFile())
        test = f"{nodeid} (collection)" if record.get("collection") else nodeid
        detail = {"test": test, "message": record.get("message", "")}
        outcome = record["outcome"]
        for tally in (self.totals, entry.tally, entry.classes.setdefault(cls, Tally())):
            tally.add(outcome, detail, record.get("subtests"))
        self.durations[nodeid] = float(record.get("duration", 0.0))


def read_records(paths: tuple[Path, ...]) -> Outcomes:
    """Fold the records files of every pytest process of a session (or of every shard), in order."""
    outcomes = Outcomes()
    for path in paths:
        for _, record in iter_records(path):
            if record.get("event") == "test":
                outcomes.add(record)
            elif record.get("event") == "collected":
                outcomes.startup = max(outcomes.startup, float(record.get("seconds", 0.0)))
            elif record.get("event") == "deselected":  # one per process; a shard's are its slice's
                outcomes.deselected += int(record["count"])
    return outcomes
