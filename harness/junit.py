"""Reads pytest's JUnit XML (xunit1, which names each test's file) into outcomes by file and class."""

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from harness.errors import DataError

OUTCOMES = ("passed", "failed", "skipped", "errors")


@dataclass
class Tally:
    """Counts of outcomes, with the skip reasons and failure messages behind them."""

    passed: int = 0
    failed: int = 0
    skipped: int = 0
    errors: int = 0
    skips: list[dict] = field(default_factory=list)
    failures: list[dict] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in OUTCOMES}

    @property
    def total(self) -> int:
        return sum(self.counts().values())


def read_junit(paths: tuple[Path, ...]) -> dict:
    """`{"totals": Tally, "files": {file: {"tally": Tally, "classes": {class: Tally}}}}` over all files."""
    totals, files = Tally(), {}
    for path in paths:
        if not path.is_file():
            continue
        try:
            root = ET.parse(path).getroot()
        except ET.ParseError as err:
            raise DataError(f"{path}: unreadable JUnit XML: {err}") from err
        for case in root.iter("testcase"):
            _add_case(case, totals, files)
    return {"totals": totals, "files": files}


def _add_case(case: ET.Element, totals: Tally, files: dict) -> None:
    outcome, detail = _outcome(case)
    file = case.get("file") or "(no file)"  # xunit2 reports and some collection errors name no file
    classname = case.get("classname", "")
    prefix = file.removesuffix(".py").replace("/", ".")
    cls = classname[len(prefix) + 1 :] if classname.startswith(prefix + ".") else ""
    entry = files.setdefault(file, {"tally": Tally(), "classes": {}})
    record = {"test": _test_id(file, cls, case.get("name", "")), "message": detail}
    for tally in (totals, entry["tally"], entry["classes"].setdefault(cls, Tally())):
        setattr(tally, outcome, getattr(tally, outcome) + 1)
        if outcome == "skipped":
            tally.skips.append(record)
        elif outcome in ("failed", "errors"):
            tally.failures.append({**record, "outcome": outcome})


def _test_id(file: str, cls: str, name: str) -> str:
    if file == "(no file)":
        return name
    if not cls and name == file.removesuffix(".py").replace("/", "."):
        return f"{file} (collection)"  # pytest names a collection error after the module
    return "::".join(part for part in (file, *cls.split("."), name) if part)


def _outcome(case: ET.Element) -> tuple[str, str]:
    """A failure outranks an error (e.g. in teardown), which outranks a skip."""
    for tag, outcome in (("failure", "failed"), ("error", "errors"), ("skipped", "skipped")):
        node = case.find(tag)
        if node is not None:
            message = (node.get("message") or "").strip()
            if tag == "skipped" and node.get("type") == "pytest.xfail":
                message = f"xfail: {message}"
            return outcome, message.splitlines()[0] if message else ""
    return "passed", ""
