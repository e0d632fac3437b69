"""The text of measured figures: what the completion report's section shows (`metrics.md.j2`), `harness
check`'s and `harness run`'s lines, the MAP.md cell and `harness history --metric`'s table, all from a
result's `metrics` section."""

from harness.evaluate.metric_history import MetricShown
from harness.evaluate.status import STATUS_LABELS
from harness.report import columns
from harness.report.marks import MARKS
from harness.spec.model import METRIC_STATS

SIGNS = {"max": "≤", "min": "≥", "equals": "="}


def number(value: float | None) -> str:
    """A figure for people: from 1,000 up thousands separated and one decimal at most, below two decimals
    at most, under 1 three significant digits; results.json keeps the unrounded value."""
    if value is None:
        return "—"
    size = abs(value)
    if size >= 1000:
        return f"{value:,.1f}".removesuffix(".0")
    if size >= 1 or value == 0:
        return f"{value:.2f}".rstrip("0").rstrip(".")
    return f"{value:.3g}"


def with_unit(value: float | None, unit: str) -> str:
    text = number(value)
    return f"{text} {unit}" if unit and value is not None else text


def signed(value: float | None) -> str:
    if value is None:
        return "—"
    text = number(value)
    return "±0" if text in ("0", "-0") else (text if text.startswith("-") else f"+{text}")


def target_text(bounds: dict, unit: str = "") -> str:
    """`≤ 50 ms`, `≥ 5,000 msg/s`, `= 1`, `≥ 1 ms, ≤ 20 ms`."""
    return ", ".join(
        f"{SIGNS[k]} {with_unit(bounds[k], unit)}" for k in ("min", "max", "equals") if k in bounds
    )


def accepted_keys(result: dict) -> list[str]:
    return list((result.get("acceptance") or {}).get("accepted") or [])


def state(check: dict, accepted: list[str]) -> str:
    """A check's state, a key of `marks.MARKS`: met, warn, accepted or below."""
    if check["met"]:
        return "met"
    if check["warn_only"]:
        return "warn"
    return "accepted" if check["key"] in accepted else "below"


def _where(check: dict) -> str:
    """Where a target comes from, unless the module's own `metrics:`: ` (step 1)`, ` (carried from …)`."""
    return "" if check["origin"] == "metrics" else f" ({check['origin']})"


def final_text(check: dict) -> str:
    """The final figure; a repeated one as its median and spread, `(median of 3: 39.8 to 44)`."""
    if not check["measured"]:
        return "not measured"
    text = with_unit(check["final"], check["unit"])
    runs = check["runs"]
    if check["repeat"] > 1:
        of = f"{len(runs)} of {check['repeat']}" if len(runs) < check["repeat"] else str(len(runs))
        spread = f": {number(check['spread'][0])} to {number(check['spread'][1])}" if check["spread"] else ""
        text += f" (median of {of}{spread})"
    return text


def table_rows(result: dict) -> list[dict]:
    """The completion report's rows: figure, statistic, unit, baseline, final, Δ, target, status."""
    section, accepted = result.get("metrics") or {}, accepted_keys(result)
    rows = []
    for c in section.get("checks", []):
        rows.append(
            {
                "figure": c["metric"],
                "stat": c["stat"],
                "unit": c["unit"] or "—",
                "baseline": number(c["baseline"]),
                "final": final_text(c),
                "delta": signed(c["delta"]),
                "target": target_text(c["bounds"]) + _where(c),
                "status": MARKS[state(c, accepted)][0],
            }
        )
    return rows


def figure_rows(result: dict) -> list[dict]:
    """Every recorded figure with all its statistics (targeted or not)."""
    figures = (result.get("metrics") or {}).get("figures", {})
    return [
        {
            "figure": name,
            "unit": f["unit"] or "—",
            "tests": number(f["tests"]),
            **{stat: number(f[stat]) for stat in METRIC_STATS},
            "repeat": f.get("repeat", 1),
        }
        for name, f in figures.items()
    ]


def view(result: dict) -> dict | None:
    """What `metrics.md.j2` renders (None: no figure recorded and no metric target)."""
    section = result.get("metrics")
    if not section:
        return None
    figures = figure_rows(result)
    return {
        "rows": table_rows(result),
        "figures": figures,
        "baseline": result.get("baseline") if section.get("baseline") else None,
        "repeated": any(f["repeat"] > 1 for f in figures),
        "carry_forward": [
            {"key": f"metric:{item['metric']}.{item['stat']}", "text": item_text(item)}
            for item in section.get("carry_forward") or []
        ],
    }


def item_text(item: dict) -> str:
    """A carry-forward item of a metric target, after its key: `61.3 ms -> target ≤ 50 ms`."""
    final = with_unit(item["final"], item["unit"]) if item["final"] is not None else "not measured"
    return f"{final} -> target {target_text(item['bounds'], item['unit'])}{_where(item)}"


def missed(result: dict) -> list[tuple[dict, str]]:
    """Every missed metric target (check) with its line, named by its key:
    `metric:ws_connect_ms.p95: 61.3 ms, target ≤ 50 ms`."""
    found = []
    for c in (result.get("metrics") or {}).get("checks", []):
        if not c["met"]:
            figure = final_text(c) if c["measured"] else f"not measured (no test recorded {c['metric']})"
            found.append(
                (c, f"{c['key']}: {figure}, target {target_text(c['bounds'], c['unit'])}{_where(c)}")
            )
    return found


def check_lines(result: dict) -> list[str]:
    """`harness check`'s lines for metric targets: every one missed, with `(warn only)` or `(accepted
    variance)` where so."""
    accepted = accepted_keys(result)
    notes = {"warn": " (warn only)", "accepted": " (accepted variance)"}
    return [line + notes.get(state(c, accepted), "") for c, line in missed(result)]


def terminal_lines(result: dict) -> list[str]:
    """The end of `harness run`'s table: each metric target, its final figure, target and state."""
    section, accepted = result.get("metrics") or {}, accepted_keys(result)
    rows = [
        (
            f"{c['metric']} {c['stat']}{_where(c)}",
            final_text(c),
            target_text(c["bounds"], c["unit"]),
            state(c, accepted),
        )
        for c in section.get("checks", [])
    ]
    if not rows:
        return []
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    return [
        f"  {name:<{widths[0]}}  {final:>{widths[1]}}  {goal:<{widths[2]}}  {MARKS[mark][1]}".rstrip()
        for name, final, goal, mark in rows
    ]


def map_cell(counts: dict | None) -> str:
    """The MAP.md cell of a module's metric targets (`evaluate.metrics.counts`): ✅ all met, ⚠️ only
    warn-only or accepted misses, ❌ a gating miss; `—` without targets."""
    if counts is None:
        return "—"
    met, total = counts["met"], counts["total"]
    icon = "❌" if counts["below"] else ("⚠️" if met < total else "✅")
    return f"{icon} {met} of {total} met"


def history_table(shown: MetricShown, trace_file: str) -> str:
    """`harness history --metric NAME`: date, commit, status, the statistics (and Δ of one), notes."""
    what = f"{shown.module_id}{f' step {shown.step}' if shown.step else ''}"
    if not shown.rows:
        return f"{what}: no finished runs in {trace_file}"
    unit = next((r.unit for r, _ in reversed(shown.rows) if r.unit), None)
    count = f"last {len(shown.rows)} of {shown.total}" if len(shown.rows) < shown.total else str(shown.total)
    one = len(shown.stats) == 1
    head = ("Date", "Commit", "Status", *shown.stats, *(("Δ",) if one else ()), "Notes")
    body = []
    for run, change in shown.rows:
        cells = [number(run.value(stat)) for stat in shown.stats]
        notes = "; ".join(
            [*(f"unmet {k.split(':', 1)[1]}" for k in run.unmet), *filter(None, [run.run.reason])]
        )
        body.append(
            (
                columns.when(run.run.at),
                (run.run.commit or "—")[:7],
                STATUS_LABELS.get(run.run.status, run.run.status or "—"),
                *cells,
                *((signed(change),) if one else ()),
                notes,
            )
        )
    unit_text = f" ({unit})" if unit else ""
    title = f"{what}, {shown.name}{unit_text}: {count} finished run{'s' if shown.total != 1 else ''}"
    return "\n".join([title, *columns.table(head, body, "<<<" + ">" * (len(head) - 4) + "<")])
