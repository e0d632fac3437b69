"""What a reviewer reads about a change, from patch.json: PATCH.md, the "This change" section of the CI
summary and PR comment, the one-line headline, `check`'s lines and GitHub annotations on changed lines.

Nothing here reads or writes a file.
"""

import re
from pathlib import PurePosixPath

from coverage.results import format_lines
from jinja2 import Environment

from harness.evaluate.mutation import changed_lines
from harness.report.markdown import cell, target_pct, templates
from harness.report.terminal import gh_data, gh_property

ANNOTATIONS = 50  # as many as GitHub shows per step; one notice counts the rest
MISSING_SHOWN = 10  # line ranges in the headline before "…"
UNCOVERED = "Changed lines not run by any test"
METRICS = {"coverage": "coverage", "branches": "branch coverage", "mutation": "mutation"}


def percent(value: float | None) -> str:
    """`87.5%`, `80%`; never 100% for a figure under 100, never 0% for one above 0."""
    if value is None:
        return "—"
    text = f"{value:.1f}"
    if text == "100.0" and value < 100:
        text = "99.9"
    elif text == "0.0" and value > 0:
        text = "0.1"
    return f"{text.removesuffix('.0')}%"


def missing_text(doc: dict, limit: int = MISSING_SHOWN) -> str:
    """`utils.py 212, 219; views.py 3-5`: the changed statements no test ran, by file (short names
    where they are unique), cut after `limit` ranges."""
    files = {path: f for path, f in doc["files"].items() if f["missing"]}
    names = [PurePosixPath(p).name for p in files]
    parts, shown = [], 0
    for path, entry in files.items():
        name = PurePosixPath(path).name
        label = name if names.count(name) == 1 else path
        ranges = format_lines(sorted(entry["covered"] + entry["missing"]), entry["missing"]).split(", ")
        take = ranges[: max(0, limit - shown)]
        shown += len(take)
        if take:
            parts.append(f"{label} {', '.join(take)}")
        if shown >= limit:
            break
    cut = sum(
        len(format_lines(f["covered"] + f["missing"], f["missing"]).split(", ")) for f in files.values()
    )
    return "; ".join(parts) + ("; …" if cut > shown else "")


def headline(doc: dict) -> str:
    """`patch coverage 87.5% (14 of 16 lines; missing: utils.py 212, 219), mutation 80% (8 of 10;
    2 survived)`: the change in one line, for the terminal, the summary and the comment."""
    totals = doc["totals"]
    if not totals["statements"]:
        count = totals["changed"]
        text = (
            f"patch coverage: no changed statement in the module's files ({_plural(count, 'changed line')})"
        )
    else:
        text = f"patch coverage {percent(totals['lines_percent'])} ({totals['covered_lines']} of"
        text += f" {totals['statements']} lines"
        text += f"; missing: {missing_text(doc)})" if totals["missing_lines"] else ")"
        if totals["branches"]:
            text += f", branches {percent(totals['branches_percent'])}"
            text += f" ({totals['covered_branches']} of {totals['branches']})"
    mutation = doc.get("mutation")
    if mutation is not None:
        text += ", " + mutation_text(mutation)
    return text


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'s' * (count != 1)}"


def mutation_text(mutation: dict) -> str:
    """`mutation 80% (8 of 10; 2 survived)`; equivalent mutants are not counted, as in the score."""
    counted = mutation["mutants"] - mutation["equivalent"]
    if not counted:
        return "mutation: no mutant on the changed lines"
    detected = mutation["killed"] + mutation["timeout"]
    left = mutation["survived"] + mutation["no_tests"]
    return f"mutation {percent(mutation['score'])} ({detected} of {counted}; {left} survived)"


def check_lines(doc: dict) -> list[str]:
    """`harness check --changed`: each patch target missed (naming files and lines or survivors), then
    the headline and the gate's answer."""
    gate = doc["gate"]
    lines = []
    for c in gate["checks"]:
        if c["met"]:
            continue
        note = " (warn only)" if gate["target"]["warn_only"] else ""
        figure = (
            c["note"] if c["figure"] is None else f"{percent(c['figure'])} < target {target_pct(c['target'])}"
        )
        lines.append(f"patch: {METRICS[c['metric']]} {figure}{_where(doc, c['metric'])}{note}")
    lines.append(f"patch: {headline(doc)}")
    if gate["target"] is not None:
        lines.append(f"patch: {_gate_word(doc)}")
    return lines


def affected_lines(doc: dict) -> list[str]:
    """`harness run --changed` of the affected tests only: how many ran and how they ended, and each
    measured file's figure, marked as the affected tests' own or carried from the whole run's record."""
    facts = doc.get("affected") or {}
    if facts.get("files") is None:
        return []
    counts = facts.get("counts") or {}
    tally = ", ".join(f"{n} {k}" for k, n in counts.items() if n or k == "passed")
    lines = [f"{doc['module']}: {facts['tests']} of {facts['of']} tests (affected by the change): {tally}"]
    if facts.get("failure"):
        lines.append(f"  the session broke: {facts['failure']}")
    width = max((len(p) for p in facts["files"]), default=0)
    for path, f in facts["files"].items():
        whence = "carried from the last whole run" if f.get("carried") else "the affected tests only"
        lines.append(f"  {path:<{width}}  {percent(f['percent']):>6}  ({whence})")
    return lines


def _where(doc: dict, metric: str) -> str:
    if metric == "coverage" and doc["totals"]["missing_lines"]:
        return f" (missing: {missing_text(doc)})"
    if metric == "branches":
        arcs = [
            f"{p} {', '.join(f['missing_branches'])}"
            for p, f in doc["files"].items()
            if f["missing_branches"]
        ]
        return f" (missing branches: {'; '.join(arcs)})" if arcs else ""
    if metric == "mutation" and doc.get("mutation") and doc["mutation"]["survivors"]:
        return " (survived: " + ", ".join(_survivor(s) for s in doc["mutation"]["survivors"]) + ")"
    return ""


def _survivor(s: dict) -> str:
    return f"{s['file']}:{s['line']} {s['operator']}"


def icon(doc: dict) -> str:
    """The headline's mark: ✅ every patch target met, ⚠️ one missed but warn only, ❌ the gate failed,
    🔎 no patch targets (figures only)."""
    gate = doc["gate"]
    if gate["target"] is None:
        return "🔎"
    return "✅" if gate["met"] else ("⚠️" if gate["passed"] else "❌")


def _gate_word(doc: dict) -> str:
    gate = doc["gate"]
    if not gate["measurable"]:
        return "passed: no line of the change can be measured"
    if gate["met"]:
        return "passed"
    return "missed, warn only" if gate["passed"] else "FAILED"


def annotations(doc: dict, limit: int = ANNOTATIONS) -> list[str]:
    """GitHub workflow commands on the exact changed lines no test ran and where mutants survived: an
    `::error` where they fail the gate, a `::warning` where it only warns, a `::notice` otherwise."""
    kinds = _annotation_kinds(doc["gate"])
    lines = []
    for path, entry in doc["files"].items():
        for first, last in _ranges(entry["covered"] + entry["missing"], entry["missing"]):
            where = f"file={gh_property(path)},line={first},endLine={last},title={UNCOVERED}"
            span = f"line {first}" if first == last else f"lines {first}-{last}"
            lines.append(
                f"::{kinds['coverage']} {where}::{gh_data(f'{path} {span}: no test runs this change')}"
            )
    for s in (doc.get("mutation") or {}).get("survivors", []):
        before, after = changed_lines(s["diff"])
        where = f"file={gh_property(s['file'])},line={s['line']},title=Mutant survived ({s['operator']})"
        text = f"{s['file']}:{s['line']}: `{before}` -> `{after or '(removed)'}` and every test still passed"
        lines.append(f"::{kinds['mutation']} {where}::{gh_data(text)}")
    if len(lines) > limit:
        lines = [*lines[:limit], f"::notice::{len(lines) - limit} more annotations; see PATCH.md"]
    return lines


def _annotation_kinds(gate: dict) -> dict[str, str]:
    kinds = {"coverage": "notice", "mutation": "notice"}
    for c in gate["checks"]:
        if not c["met"]:
            kind = "warning" if gate["target"]["warn_only"] else "error"
            kinds["mutation" if c["metric"] == "mutation" else "coverage"] = kind
    return kinds


def _ranges(statements: list[int], missing: list[int]) -> list[tuple[int, int]]:
    """Runs of missing changed statements, as `format_lines` groups them (bridging non-statements)."""
    text = format_lines(sorted(statements), sorted(missing))
    found = []
    for part in filter(None, text.split(", ")):
        first, _, last = part.partition("-")
        found.append((int(first), int(last or first)))
    return found


def change_section(doc: dict) -> str:
    """The "This change" section of the CI step summary and of `check --comment`'s text."""
    return _tidy(_ENV.get_template("patch_summary.md.j2").render(d=doc))


def patch_markdown(doc: dict) -> str:
    """PATCH.md: the section above, then every file's changed lines and every survivor's diff."""
    return _tidy(_ENV.get_template("patch.md.j2").render(d=doc))


def _tidy(text: str) -> str:
    return re.sub(r"\n{3,}", "\n\n", text)


def _environment() -> Environment:
    env = templates(autoescape=False)
    env.filters.update(percent=percent, cell=cell, target_pct=target_pct, lines=_line_list)
    env.globals.update(
        headline=headline,
        mutation_text=mutation_text,
        icon=icon,
        metrics=METRICS,
        changed=changed_lines,
    )
    return env


def _line_list(numbers: list[int]) -> str:
    """`3-5, 9` for a list of line numbers (consecutive numbers as ranges); `—` for none."""
    if not numbers:
        return "—"
    return format_lines(list(range(min(numbers), max(numbers) + 1)), numbers)


_ENV = _environment()
