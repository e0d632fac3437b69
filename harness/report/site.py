"""The static site of the stored record (`harness site`): pages from plain data, pure and deterministic.

The site mirrors `reports/`: `<id>/` holds a module's files as stored (coverage HTML, charts, badge,
`mutation.html`, JSON and XML), its Markdown reports as HTML beside them (`COMPLETION_STATUS.md` becomes
the module's `index.html`), and `index.html` at the top lists every module with its figures and the trend
charts. Every link is relative and stays inside the site; a report's link to anything the site does not
hold (a spec file, say) becomes plain text. Nothing here reads or writes a file: `build` is handed the
data and says which bytes go where and which stored files are copied (harness/store/site.py does both).
The names are the store's (harness/store/layout.py): the site mirrors reports/.
"""

import posixpath
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from jinja2 import Environment

from harness.report import markdown, markdown_html, mutation_html
from harness.report import stability as stability_text
from harness.store import layout
from harness.store import mutation_schema as schema

INDEX = layout.SITE_INDEX
REPORT = layout.REPORT
MUTATION_PAGE = layout.MUTATION_HTML
OVERVIEW_CHART = layout.MAP_CHART
TREND_CHART = layout.TREND_CHART
# What a module's page and its row of the index link to, when the site holds it.
LINKS = (("report", INDEX), ("coverage", f"{layout.HTML}/index.html"), ("mutation", MUTATION_PAGE))


@dataclass(frozen=True)
class ModuleRecord:
    """What the site shows of one module, as stored.

    `reports` maps each Markdown report (relative to the module's directory) to its text; `files` maps
    every other stored file to copy (same relative names) to where it is; `mutation` is the decoded
    mutation record (with `texts`) when the module has one but no `mutation.html` yet.
    """

    id: str
    title: str
    result: dict | None
    runs: tuple = ()
    reports: Mapping[str, str] = field(default_factory=dict)
    files: Mapping[str, Path] = field(default_factory=dict)
    mutation: dict | None = None
    thresholds: schema.Thresholds = schema.DEFAULT_THRESHOLDS


@dataclass(frozen=True)
class Site:
    """The site as bytes to write (`pages`) and stored files to copy (`copies`), by path in the site."""

    pages: dict[str, bytes]
    copies: dict[str, Path]

    def paths(self) -> set[str]:
        return {*self.pages, *self.copies}


def build(modules: list[ModuleRecord], overview_chart: Path | None = None, title: str = "harness") -> Site:
    """Every page of the site. Same data, same bytes: nothing depends on the clock or the machine."""
    copies: dict[str, Path] = {}
    pages: dict[str, bytes] = {}
    if overview_chart is not None:
        copies[OVERVIEW_CHART] = overview_chart
    for module in modules:
        for rel, path in sorted(module.files.items()):
            copies[f"{module.id}/{rel}"] = path
        if module.mutation is not None and MUTATION_PAGE not in module.files:
            page = mutation_html.page(module.mutation, module.thresholds)
            pages[f"{module.id}/{MUTATION_PAGE}"] = page.encode("utf-8")
    known = {*copies, *pages, *(f"{m.id}/{page_name(rel)}" for m in modules for rel in m.reports)}
    for module in modules:
        for rel, text in sorted(module.reports.items()):
            where = f"{module.id}/{page_name(rel)}"
            pages[where] = _report_page(module, rel, text, known).encode("utf-8")
    pages[INDEX] = _index(modules, known, title).encode("utf-8")
    return Site(pages, copies)


def page_name(report: str) -> str:
    """Where a Markdown report's HTML goes: a completion report becomes its directory's index."""
    folder, name = posixpath.split(report)
    html = INDEX if name == REPORT else posixpath.splitext(name)[0] + ".html"
    return posixpath.join(folder, html)


def relinker(page: str, source: str, known: set[str]):
    """How a link in the Markdown file `source` (site-relative) reads from `page`: kept when it leads to
    something the site holds (a .md report to its page), dropped otherwise; other sites' links kept."""
    base = posixpath.dirname(source)
    here = posixpath.dirname(page)

    def relink(target: str) -> str | None:
        if not target or target.startswith("#") or "://" in target or target.startswith("mailto:"):
            return target or None
        path, _, anchor = target.partition("#")
        resolved = posixpath.normpath(posixpath.join(base, path))
        if resolved.endswith(".md"):
            resolved = page_name(resolved)
        if resolved not in known:
            return None
        relative = posixpath.relpath(resolved, here or ".")
        return f"{relative}#{anchor}" if anchor else relative

    return relink


def _report_page(module: ModuleRecord, rel: str, text: str, known: set[str]) -> str:
    where = f"{module.id}/{page_name(rel)}"
    body = markdown_html.render(text, relinker(where, f"{module.id}/{rel}", known))
    home = posixpath.relpath(INDEX, posixpath.dirname(where))
    links = [
        (label, posixpath.relpath(f"{module.id}/{target}", posixpath.dirname(where)))
        for label, target in LINKS
        if f"{module.id}/{target}" in known and f"{module.id}/{target}" != where
    ]
    return _template("site_report.html.j2").render(
        title=f"{module.id}: {posixpath.basename(rel)}", home=home, links=links, body=body
    )


def _index(modules: list[ModuleRecord], known: set[str], title: str) -> str:
    rows = [row(m, known) for m in modules]
    chart = OVERVIEW_CHART if OVERVIEW_CHART in known else None
    return _template("site_index.html.j2").render(title=title, rows=rows, chart=chart)


def row(module: ModuleRecord, known: set[str]) -> dict:
    """One module's line of the index: its figures as text, and links to what the site has of it."""
    result = module.result or {}
    overall = result.get("overall") or {}
    mutation = (result.get("mutation") or {}).get("overall") or {}
    trend = f"{module.id}/{TREND_CHART}"
    return {
        "id": module.id,
        "title": module.title,
        "status": result.get("status") or "not_run",
        "status_label": result.get("status_label") or ("Not run" if not module.result else result["status"]),
        "tests": _tests(result.get("tests")),
        "coverage": _figure(overall.get("percent"), overall.get("target")),
        "mutation": _figure(mutation.get("score"), mutation.get("target")),
        "stability": _stability(result.get("stability")),
        "metrics": _section(result.get("metrics")),
        "finished": (result.get("finished_at") or "")[:10] or "—",
        "runs": _runs(module.runs),
        "links": [(label, f"{module.id}/{t}") for label, t in LINKS if f"{module.id}/{t}" in known],
        "trend": trend if trend in known else None,
    }


def _figure(value, target) -> str:
    if value is None:
        return "—"
    return f"{value:.1f}%" + (f" (target {target:g}%)" if target is not None else "")


def _tests(tests) -> str:
    if not isinstance(tests, dict):
        return "—"
    kinds = ("passed", "failed", "flaky", "quarantined", "skipped", "errors")
    shown = [f"{tests.get(k, 0)} {k}" for k in kinds if tests.get(k)]
    return ", ".join(shown) or "none"


def _stability(section) -> str:
    """The stability section in a few words: `stable (3 repetitions)`, or what was found."""
    if not isinstance(section, dict) or "stable" not in section:
        return "—"
    return stability_text.summary(section)


def _section(section) -> str:
    """The metrics section in a few words: what is unmet, else how many figures it holds."""
    if not isinstance(section, dict) or not section:
        return "—"
    unmet = section.get("unmet")
    if isinstance(unmet, list):
        return f"{len(unmet)} unmet" if unmet else "met"
    lists = [(k, v) for k, v in sorted(section.items()) if isinstance(v, list) and v]
    counted = [f"{len(v)} {k.replace('_', ' ')}" for k, v in lists]
    return ", ".join(counted) or "recorded"


def _runs(runs) -> str:
    figures = [r.overall for r in runs if getattr(r, "overall", None) is not None]
    if not runs:
        return "no runs"
    text = f"{len(runs)} run{'s' if len(runs) != 1 else ''}"
    if figures:
        text += f"; lowest {min(figures):.1f}%, highest {max(figures):.1f}%"
    return text


@cache
def _environment() -> Environment:
    return markdown.templates(autoescape=True)


def _template(name: str):
    return _environment().get_template(name)
