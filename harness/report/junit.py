"""junit.xml, written from the session plugin's records rather than by pytest's own `--junitxml`.

The records already hold every test's outcome, message, failure text and duration, so the JUnit file
costs the pytest processes nothing (pytest's writer builds an XML node per test as the tests run: 3% of
a run of many small tests). The file reads as pytest's xunit1 output does: one `<testsuite>` per
pytest process; each test's `classname` (its file as a dotted path, then its classes) and `name`
mangled from its node id as pytest mangles them, `file` and `line` (where the test is defined),
`time` (setup + call + teardown), `record_property` values, and a `<failure>`, `<error>` or
`<skipped>` element with the message and the full failure text.
"""

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from harness.run.records import is_xfail, iter_records

# Each outcome that is not a pass: the <testsuite> count it adds to, and its element in <testcase>.
_COUNTED = {"failed": "failures", "errors": "errors", "skipped": "skipped"}
_FAILED = {"failed": "failure", "errors": "error"}
# Characters XML 1.0 cannot carry (pytest's writer escapes them the same way).
_ILLEGAL = re.compile("[^\u0009\u000a\u000d\u0020-\u007e\u0080-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def write(paths: list[Path], out: Path) -> None:
    """Write `out` from the records files (a job of the end of a run: nothing in the run reads it)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(from_records(paths))


def from_records(paths: list[Path]) -> bytes:
    """One `<testsuites>` document: a `<testsuite>` per records file (a pytest process), in order."""
    root = ET.Element("testsuites")
    for path in paths:
        root.append(_suite([record for _, record in iter_records(path) if record.get("event") == "test"]))
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def _suite(records: list[dict]) -> ET.Element:
    counts = dict.fromkeys(("errors", "failures", "skipped"), 0)
    suite = ET.Element("testsuite", name="pytest")
    for record in records:
        suite.append(_case(record))
        if record["outcome"] in _COUNTED:
            counts[_COUNTED[record["outcome"]]] += 1
    total = sum(float(record.get("duration", 0.0)) for record in records)
    suite.attrib.update({name: str(count) for name, count in counts.items()})
    suite.set("tests", str(len(records)))
    suite.set("time", f"{total:.3f}")
    return suite


def _case(record: dict) -> ET.Element:
    nodeid, outcome = record["nodeid"], record["outcome"]
    message, details = _text(record.get("message", "")), _text(record.get("details", ""))
    if record.get("collection"):  # a file that could not be collected, as pytest reports it
        case = ET.Element("testcase", classname="", name=classname_and_name(nodeid)[1], file=nodeid)
        ET.SubElement(case, "error", message="collection failure").text = details or message
        return case
    classname, name = classname_and_name(nodeid)
    case = ET.Element("testcase", classname=classname, name=name)
    file, line = record.get("location") or (nodeid.split("::", 1)[0], None)
    case.set("file", file)
    if line is not None:
        case.set("line", str(line))
    case.set("time", f"{float(record.get('duration', 0.0)):.3f}")
    if record.get("properties"):
        properties = ET.SubElement(case, "properties")
        for key, value in record["properties"]:
            ET.SubElement(properties, "property", name=_text(str(key)), value=_text(str(value)))
    if outcome in _FAILED:
        ET.SubElement(case, _FAILED[outcome], message=message).text = details or message
    elif outcome == "skipped":
        kind = "pytest.xfail" if is_xfail(message) else "pytest.skip"
        ET.SubElement(case, "skipped", type=kind, message=message)
    return case


def classname_and_name(nodeid: str) -> tuple[str, str]:
    """pytest's JUnit names for a node id: `dir.test_file.Class` and `test_name[params]`."""
    path, bracket, params = nodeid.partition("[")
    names = path.split("::")
    names[0] = re.sub(r"\.py$", "", names[0].replace("/", "."))
    names[-1] += bracket + params
    return ".".join(names[:-1]), names[-1]


def _text(value: str) -> str:
    return _ILLEGAL.sub(lambda match: f"#x{ord(match.group()):02X}", value)
