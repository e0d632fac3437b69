"""The site builder on plain data: the index's figures, links kept inside the site, same data same bytes."""

import posixpath
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from harness.evaluate.history import Run
from harness.report import site
from harness.store import mutation as record
from harness.store import mutation_schema as schema

REPORT = """\
# mod Completion Status

See [the spec](../../suites/mod/module.yml), [coverage](htmlcov/index.html#top),
[the other module](../other/COMPLETION_STATUS.md), [a step](steps/1/COMPLETION_STATUS.md) and
[the docs](https://example.org/docs).

![Trend](charts/coverage-trend.svg) ![Gone](charts/files.svg)
"""
STEP = "# Step 1\n\n[up](../../index.html)\n"
DIFF = "--- a/m.py\n+++ b/m.py\n@@ -1 +1 @@\n-x = 1\n+x = 2\n"


def result(**fields) -> dict:
    return {
        "module": "mod",
        "status": "complete",
        "status_label": "Complete",
        "finished_at": "2026-12-01T21:47:35+00:00",
        "tests": {"passed": 31, "failed": 0, "skipped": 2, "errors": 0, "flaky": 2, "quarantined": 0},
        "overall": {"percent": 91.2345, "target": 90.0},
        "mutation": {"overall": {"score": 87.5, "target": 85.0}},
        **fields,
    }


# results.json's stability section of 3 repetitions that found two flaky tests (the parts the index reads)
STABILITY = {
    "repetitions": 3,
    "stable": False,
    "flaky": [{"test": "t.py::a"}, {"test": "t.py::b"}],
    "order_dependent": [],
    "unstable_files": [],
    "seen_flaky": [],
}


def run(overall: float) -> Run:
    return Run(None, None, None, None, "complete", None, None, overall, None)


def modules(tmp_path: Path) -> list[site.ModuleRecord]:
    stored = {}
    for rel in ("htmlcov/index.html", "charts/coverage-trend.svg", "results.json"):
        stored[rel] = tmp_path / "mod" / rel
    mutant = {
        "id": "1",
        "file": "m.py",
        "line": 1,
        "operator": "constant",
        "function": None,
        "diff": DIFF,
        "status": "survived",
        "tests": [],
        "rationale": None,
    }
    mutation = {**record.document("mod", ["m.py"], [mutant]), "texts": {"m.py": "x = 1\n"}}
    return [
        site.ModuleRecord(
            "mod",
            "The module",
            result(stability=STABILITY),
            (run(80.0), run(91.2345)),
            {"COMPLETION_STATUS.md": REPORT, "steps/1/COMPLETION_STATUS.md": STEP},
            stored,
            mutation,
            schema.Thresholds(90, 85),
        ),
        site.ModuleRecord("other", "Not run yet", None),
    ]


class Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links: list[str] = []
        self.cells: dict[str, list[str]] = {}
        self._row: str | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.links += [attrs[k] for k in ("href", "src") if k in attrs]
        if tag == "tr" and "data-module" in attrs:
            self._row = attrs["data-module"]
            self.cells[self._row] = []
        elif tag == "td" and self._row:
            self._cell = []

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)

    def handle_endtag(self, tag):
        if tag == "td" and self._cell is not None:
            self.cells[self._row].append(" ".join("".join(self._cell).split()))
            self._cell = None


def page(built: site.Site, where: str) -> Page:
    parsed = Page()
    parsed.feed(built.pages[where].decode("utf-8"))
    return parsed


def test_the_index_lists_every_module_with_its_figures(tmp_path):
    cells = page(site.build(modules(tmp_path)), "index.html").cells
    assert list(cells) == ["mod", "other"]
    mod = cells["mod"]
    assert mod[1:7] == [
        "Complete",
        "31 passed, 2 flaky, 2 skipped",
        "91.2% (target 90%)",
        "87.5% (target 85%)",
        "unstable: 2 flaky tests, no order-dependent tests, no unstable lines",
        "—",
    ]
    assert mod[7:9] == ["2026-12-01", "2 runs; lowest 80.0%, highest 91.2%"]
    assert mod[9] == "report · coverage · mutation"
    assert cells["other"][1:6] == ["Not run", "—", "—", "—", "—"]


def test_a_reports_links_lead_inside_the_site_or_become_text(tmp_path):
    built = site.build(modules(tmp_path))
    html = built.pages["mod/index.html"].decode("utf-8")
    assert '<span class="unlinked">the spec</span>' in html
    assert 'href="htmlcov/index.html#top"' in html and 'href="steps/1/index.html"' in html
    assert '<span class="unlinked">the other module</span>' in html  # `other` has no report
    assert 'href="https://example.org/docs"' in html
    assert '<img src="charts/coverage-trend.svg" alt="Trend"' in html and "files.svg" not in html
    assert 'href="../../index.html"' in built.pages["mod/steps/1/index.html"].decode("utf-8")


def test_every_relative_link_of_every_page_resolves_inside_the_site(tmp_path):
    built = site.build(modules(tmp_path), tmp_path / "coverage-trend.svg")
    for where in built.pages:
        if where.endswith("mutation.html"):
            continue  # one file with no links (tests/harness/report/test_mutation_html.py)
        for link in page(built, where).links:
            if link.startswith(("https://", "#")):
                continue
            target = posixpath.normpath(posixpath.join(posixpath.dirname(where), link.partition("#")[0]))
            assert target in built.paths(), (where, link)


def test_a_module_with_a_mutation_record_and_no_page_gets_one(tmp_path):
    built = site.build(modules(tmp_path))
    assert b"<mutation-test-report-app" in built.pages["mod/mutation.html"]
    with_page = [site.ModuleRecord("m", "t", None, files={"mutation.html": tmp_path / "x"}, mutation={})]
    assert site.build(with_page).copies["m/mutation.html"] == tmp_path / "x"


def test_the_same_data_gives_the_same_bytes(tmp_path):
    first, second = site.build(modules(tmp_path)), site.build(modules(tmp_path))
    assert first == second
    assert not re.search(rb"20\d\d-\d\d-\d\dT", first.pages["index.html"])  # no build time


@pytest.mark.parametrize(
    ("report", "page_name"),
    [
        ("COMPLETION_STATUS.md", "index.html"),
        ("steps/2/COMPLETION_STATUS.md", "steps/2/index.html"),
        ("PATCH.md", "PATCH.html"),
    ],
)
def test_each_markdown_report_becomes_a_page_beside_it(report, page_name):
    assert site.page_name(report) == page_name
