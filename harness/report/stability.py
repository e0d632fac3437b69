"""The stability section of the reports (`templates/stability.md.j2`) and its terminal lines, from the
`stability` dict of results.json: tests and lines named, how often, each kind's first failure, seeds."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from harness.evaluate.stability_verdict import spans


def seeds(values: Sequence[int | None]) -> str:
    return ", ".join("as collected" if seed is None else str(seed) for seed in values)


def state(key: str) -> str:
    """A source state short enough to read: the commit's first 12 characters and the changes' digest."""
    commit, _, changes = key.partition("+")
    return f"{commit[:12]}+{changes[:8]}" if changes else commit[:20]


def _count(number: int, word: str) -> str:
    return f"{number} {word}" if number == 1 else f"{number} {word}s"


def findings(stab: Mapping) -> str:
    """`no flaky tests, no order-dependent tests, no unstable coverage`, or what was found."""
    flaky = len(stab.get("flaky", [])) + len(stab.get("seen_flaky", []))
    dependent, unstable = len(stab.get("order_dependent", [])), len(stab.get("unstable_files", []))
    lines = sum(len(f["lines"]) for f in stab.get("unstable_files", []))
    branches = sum(len(f["branches"]) for f in stab.get("unstable_files", []))
    parts = [
        _count(flaky, "flaky test") if flaky else "no flaky tests",
        _count(dependent, "order-dependent test") if dependent else "no order-dependent tests",
    ]
    if stab.get("repetitions", 1) > 1:
        named = [_count(lines, "unstable line")] if lines else []
        named += [_count(branches, "unstable branch").replace("branchs", "branches")] if branches else []
        where = f"in {_count(unstable, 'file')}"
        parts.append(f"{' and '.join(named)} {where}" if unstable else "no unstable lines")
    return ", ".join(parts)


def summary(stab: Mapping) -> str:
    """A few words (the site's index): `stable (3 repetitions)`, or `unstable: ` and the findings."""
    if stab["stable"]:
        repetitions = stab.get("repetitions", 1)
        return f"stable ({repetitions} repetitions)" if repetitions > 1 else "stable"
    return f"unstable: {findings(stab)}"


def kinds(failures: Sequence[Mapping]) -> str:
    """Each kind of failure once, with how often it came and its first message."""
    texts = []
    for f in failures:
        often = f", {f['count']} times" if f["count"] > 1 else ""
        texts.append(f"`{f['kind']}`{often} (first in repetition {f['repetition']}): {f['message']}")
    return cell("; ".join(texts)) or "—"


def arrows(order: Sequence[str]) -> str:
    return " → ".join(f"`{cell(nodeid)}`" for nodeid in order) or "—"


def often(counts: Mapping[str, int]) -> str:
    """Lines `{"12": 2, "13": 2, "20": 1}` as `12-13 (2), 20 (1)`; branches `{"11->12": 2}`: `11->12 (2)`."""
    by_count: dict[int, list] = {}
    for item, count in counts.items():
        by_count.setdefault(count, []).append(int(item) if item.lstrip("-").isdigit() else item)
    parts = []
    for count in sorted(by_count, reverse=True):
        items = by_count[count]
        named = spans(items) if all(isinstance(i, int) for i in items) else ", ".join(map(str, items))
        parts.append(f"{named} ({count})")
    return ", ".join(parts)


def met(met_in: Sequence[int] | None, repetitions: int) -> str:
    if met_in is None:
        return "no target"
    if len(met_in) in (0, repetitions):
        return "all" if met_in else "none"
    return f"{len(met_in)} of {repetitions} only (repetition {', '.join(map(str, met_in))})"


def cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


FILTERS = {"seeds": seeds, "state": state, "findings": findings, "kinds": kinds, "arrows": arrows}
FILTERS.update(often=often, met=met)


def render(stab: Mapping) -> str:
    """The section alone (the completion report includes the same template)."""
    from harness.report.markdown import render_partial  # the one Jinja environment, which uses FILTERS

    return render_partial("stability.md.j2", stab=stab)


def terminal_lines(stab: Mapping) -> list[str]:
    """What `harness run` prints after its table: the verdict, then each blocking and warning line."""
    word = "stable" if stab["stable"] else "UNSTABLE"
    lines = [f"Stability ({stab['repetitions']} repetitions): {word}: {findings(stab)}"]
    lines += [f"  BLOCKING {line}" for line in stab["blocking"]]
    lines += [f"  warning  {line}" for line in stab["warnings"]]
    if any(seed is not None for seed in stab.get("seeds", [])):
        lines.append(f"  seeds: {seeds(stab['seeds'])} (HARNESS_SHUFFLE_SEED replays one)")
    return lines
