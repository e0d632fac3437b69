"""coverage.py's data through its API: reports into a work directory, per-file figures and gap regions."""

import contextlib
import json
import re
from pathlib import Path

import coverage
from coverage.exceptions import CoverageException
from coverage.results import format_lines

from harness.errors import DataError


def write_reports(root: Path, data_file: Path, out_dir: Path) -> dict:
    """Write coverage.json, coverage.xml and htmlcov/ into `out_dir`; return the JSON report (format 3)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    # File names in reports are relative to the working directory, and we want them relative to the root.
    with contextlib.chdir(root):
        try:
            cov = coverage.Coverage(data_file=str(data_file))
            cov.load()
            if not cov.get_data().measured_files():
                raise DataError(f"{data_file}: coverage data has no measured files")
            cov.json_report(outfile=str(out_dir / "coverage.json"))
            cov.xml_report(outfile=str(out_dir / "coverage.xml"))
            cov.html_report(directory=str(out_dir / "htmlcov"))
        except CoverageException as err:
            raise DataError(f"{data_file}: coverage.py could not report: {err}") from err
    return json.loads((out_dir / "coverage.json").read_text(encoding="utf-8"))


def step_figures(root: Path, data_file: Path, tests: dict[int, list[str]], scratch: Path) -> dict[int, dict]:
    """Per step: per-file figures of only that step's tests, from coverage.py's per-test contexts.

    pytest-cov names a test's contexts `<node id>|setup`, `|run` and `|teardown`; lines run while the
    modules were imported (collection, the empty context) count for every step, as they would if the
    step ran alone.
    """
    figures: dict[int, dict] = {}
    with contextlib.chdir(root):
        try:
            cov = coverage.Coverage(data_file=str(data_file))
            cov.load()
            for number, nodeids in tests.items():
                out = scratch / f"step-{number}.json"
                cov.json_report(outfile=str(out), contexts=[_contexts_of(nodeids)])
                figures[number] = file_figures(json.loads(out.read_text(encoding="utf-8")))
        except CoverageException as err:
            raise DataError(f"{data_file}: coverage.py could not report per step: {err}") from err
    return figures


def _contexts_of(nodeids: list[str]) -> str:
    """One regex for the import-time context and every phase of the given tests."""
    alternatives = "|".join(re.escape(nodeid) for nodeid in sorted(nodeids))
    return rf"^$|^(?:{alternatives})\|" if nodeids else "^$"


def executed_nothing(report: dict) -> bool:
    """True when no line of any reported file ran (every file is listed, none was imported from here)."""
    return not any(data["executed_lines"] for data in report["files"].values())


def combine(root: Path, data_files: list[Path], dest: Path) -> None:
    """Merge shard data files into `dest`, keeping the originals."""
    with contextlib.chdir(root):
        try:
            cov = coverage.Coverage(data_file=str(dest))
            cov.combine([str(p) for p in data_files], keep=True)
            cov.save()
        except CoverageException as err:
            raise DataError(f"cannot combine coverage data: {err}") from err


def file_figures(report: dict) -> dict[str, dict]:
    """Per-file figures from a JSON report; `percent` is coverage.py's `percent_covered`, unrounded."""
    return {path: _figures(data) for path, data in sorted(report["files"].items())}


def totals(report: dict) -> dict:
    summary = report["totals"]
    return {
        "statements": summary["num_statements"],
        "missed": summary["missing_lines"],
        "percent": summary["percent_covered"],
        **_split_percents(summary),
    }


def _split_percents(summary: dict) -> dict:
    """Line-only and branch-only percents (computed when an older coverage.py leaves them out)."""
    statements, branches = summary["num_statements"], summary.get("num_branches", 0)
    lines = summary.get("percent_statements_covered")
    if lines is None:
        lines = 100.0 * summary["covered_lines"] / statements if statements else 100.0
    branch = summary.get("percent_branches_covered")
    if branch is None and branches:
        branch = 100.0 * summary["covered_branches"] / branches
    return {"lines_percent": lines, "branches_percent": branch if branches else None}


def _figures(data: dict) -> dict:
    summary = data["summary"]
    statements = sorted(set(data["executed_lines"]) | set(data["missing_lines"]))
    missing = sorted(data["missing_lines"])
    ranges = line_ranges(statements, missing)
    return {
        "statements": summary["num_statements"],
        "missed": summary["missing_lines"],
        "percent": summary["percent_covered"],
        **_split_percents(summary),
        "missing": format_lines(statements, missing),
        "missing_branches": [_arc(a, b) for a, b in data.get("missing_branches", [])],
        "gaps": [_gap(start, end, missing, data) for start, end in ranges],
        "functions": _weak_regions(data.get("functions", {})),
    }


def line_ranges(statements: list[int], missing: list[int]) -> list[tuple[int, int]]:
    """Runs of missing statements, bridging non-statement lines, as coverage.py's `format_lines` does."""
    missed, ranges, start, end = set(missing), [], None, None
    for line in statements:
        if line in missed:
            start = line if start is None else start
            end = line
        elif start is not None:
            ranges.append((start, end))
            start = None
    if start is not None:
        ranges.append((start, end))
    return ranges


def _arc(start: int, end: int) -> str:
    return f"{start}->{end if end > 0 else 'exit'}"


def _gap(start: int, end: int, missing: list[int], data: dict) -> dict:
    """A missing range and the functions and classes its lines sit in."""
    lines = {n for n in missing if start <= n <= end}
    return {
        "lines": f"{start}-{end}" if start != end else str(start),
        "count": len(lines),
        "functions": _regions_holding(lines, data.get("functions", {})),
        "classes": [c for c in _regions_holding(lines, data.get("classes", {})) if c != "(module level)"],
    }


def _regions_holding(lines: set[int], regions: dict) -> list[str]:
    names = [name for name, region in regions.items() if lines & set(region["missing_lines"])]
    return [name or "(module level)" for name in names]


def _weak_regions(functions: dict) -> list[dict]:
    """Functions with missed statements or branches, for the gap table."""
    weak = []
    for name, region in functions.items():
        summary = region["summary"]
        if summary["missing_lines"] or summary.get("missing_branches"):
            weak.append(
                {
                    "name": name or "(module level)",
                    "start_line": region.get("start_line"),
                    "statements": summary["num_statements"],
                    "missed": summary["missing_lines"],
                    "percent": summary["percent_covered"],
                }
            )
    return weak
