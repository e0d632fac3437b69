"""coverage.py's data through its API: reports into a work directory, per-file figures and gap regions."""

import contextlib
import functools
import json
import re
from pathlib import Path

import coverage
from coverage.exceptions import CoverageException
from coverage.results import format_lines

from harness.errors import DataError
from harness.run.env import STEP_CONTEXT


def json_report(root: Path, data_file: Path, out_dir: Path, steps: tuple[int, ...] = ()) -> dict:
    """Write coverage.json into `out_dir` and return it (format 3): the figures every result is made of.

    With step numbers, also each step's report into `out_dir/steps/` (read back by `step_figures`).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    with _loaded(root, data_file) as cov:
        if not cov.get_data().measured_files():
            raise DataError(f"{data_file}: coverage data has no measured files")
        cov.json_report(outfile=str(out_dir / "coverage.json"))
        for number in steps:
            out = _step_report(out_dir, number)
            cov.json_report(outfile=str(out), contexts=[step_contexts(number)])
    return json.loads((out_dir / "coverage.json").read_text(encoding="utf-8"))


def unrun_report(root: Path, files: list[str], out_dir: Path) -> dict:
    """The JSON report of a session that ran no test: every statement and branch of `files` (relative,
    Python) missing. What a change's lines are measured against when no test is affected."""
    out_dir.mkdir(parents=True, exist_ok=True)
    data_file = out_dir / ".coverage.unrun"
    data = coverage.CoverageData(basename=str(data_file))
    data.add_arcs({})  # branch data, as every harness session measures
    data.touch_files([str((root / f).resolve()) for f in files if f.endswith(".py")])
    data.write()
    try:
        return json_report(root, data_file, out_dir)
    finally:
        data_file.unlink(missing_ok=True)


def write_artifacts(root: Path, data_file: Path, out_dir: Path) -> None:
    """Write coverage.xml and htmlcov/ into `out_dir`: what a reader opens, no figure is taken from them."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with _loaded(root, data_file) as cov:
        cov.xml_report(outfile=str(out_dir / "coverage.xml"))
        cov.html_report(directory=str(out_dir / "htmlcov"))


@contextlib.contextmanager
def _loaded(root: Path, data_file: Path):
    """coverage.py on a data file, from the root: report file names are relative to the working directory."""
    with contextlib.chdir(root):
        try:
            cov = coverage.Coverage(data_file=str(data_file))
            cov.load()
            # Each report parses every source file again; one reporter per file (it keeps its parse)
            # halves the time of the several reports made here. Without this private method, no cache.
            if hasattr(cov, "_get_file_reporter"):
                cov._get_file_reporter = functools.cache(cov._get_file_reporter)
            yield cov
        except CoverageException as err:
            raise DataError(f"{data_file}: coverage.py could not report: {err}") from err


def step_figures(out_dir: Path, numbers: list[int]) -> dict[int, dict]:
    """Per step: per-file figures of only that step's tests (from the reports `json_report` wrote).

    The session plugin records each test's lines under `harness-steps:<its steps>`; lines run while the
    modules were imported (collection, the empty context) count for every step, as they would if the
    step ran alone.
    """
    return {
        number: file_figures(json.loads(_step_report(out_dir, number).read_text(encoding="utf-8")))
        for number in numbers
    }


def _step_report(out_dir: Path, number: int) -> Path:
    (out_dir / "steps").mkdir(exist_ok=True)
    return out_dir / "steps" / f"{number}.json"


def step_contexts(number: int) -> str:
    """One regex for the import-time context and the contexts of every step set that holds `number`."""
    return rf"^$|^{re.escape(STEP_CONTEXT)}(?:\d+,)*{number}(?:,| |$)"  # ` <node id>`: per-test contexts


def executed_nothing(report: dict) -> bool:
    """True when no line of any reported file ran (every file is listed, none was imported from here)."""
    return not any(data["executed_lines"] for data in report["files"].values())


def combine(root: Path, data_files: list[Path], dest: Path, roots: tuple[str, ...] = ()) -> None:
    """Merge shard data files into `dest`, keeping the originals.

    `roots` are the project roots the shards ran in (CI machines check out to other paths than this
    one): their file names are mapped onto `root`, besides the project's own `[paths]` aliases.
    """
    with contextlib.chdir(root):
        try:
            cov = coverage.Coverage(data_file=str(dest))
            others = sorted({r for r in roots if r != str(root)})
            if others:
                paths = dict(cov.get_option("paths") or {})
                paths["harness shards"] = [str(root), *others]
                cov.set_option("paths", paths)
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
        **_branch_counts(summary),
        "percent": summary["percent_covered"],
        **split_percents(summary),
    }


def _branch_counts(summary: dict) -> dict:
    """Branches and missed branches: with statements and missed lines, what `percent_covered` is made of.

    percent = (statements - missed + branches - branches_missed) / (statements + branches); both 0
    without branch coverage.
    """
    return {"branches": summary.get("num_branches", 0), "branches_missed": summary.get("missing_branches", 0)}


def split_percents(summary: dict) -> dict:
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
        **_branch_counts(summary),
        "percent": summary["percent_covered"],
        **split_percents(summary),
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
                    **_branch_counts(summary),
                    "percent": summary["percent_covered"],
                }
            )
    return weak
