"""The site and a mutation report in a real browser (the system's headless Chromium), as a person sees them.

Built from this repository's committed record with `harness site`. Every page must log no console error
and ask for nothing but files of the site. Screenshots are kept in `.test-artifacts/browser/` (or under
$HARNESS_TEST_ARTIFACTS). Skipped where no Chromium is installed; `.ci/run` installs Debian's.
"""

import json
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli import main

ROOT = Path(__file__).resolve().parents[3]
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome-stable", "google-chrome")
# Headless in a container: no sandbox (root), no GPU, and none of Chromium's own calls home.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium() -> str:
    found = os.environ.get("HARNESS_CHROMIUM") or next(filter(None, map(shutil.which, CHROMIUM_NAMES)), None)
    if not found:
        pytest.skip("no Chromium installed (apt-get install chromium); the browser tests use the system's")
    return found


@pytest.fixture(scope="module")
def browser():
    executable = chromium()
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="the tests group's playwright is not installed"
    )
    with sync_api.sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("browser") / "site"
    outcome = CliRunner().invoke(
        main, ["--root", str(ROOT), "site", "--out", str(out)], catch_exceptions=False
    )
    assert outcome.exit_code == 0, outcome.output
    return out


@pytest.fixture
def page(browser, site, request):
    """A page that records console errors and every request; both are checked when the test ends."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    errors: list[str] = []
    requests: list[str] = []
    opened.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    opened.on("pageerror", lambda e: errors.append(str(e)))
    opened.on("request", lambda r: requests.append(r.url))
    yield opened
    opened.screenshot(path=str(artifacts() / f"{request.node.name}.png"), full_page=False)
    context.close()
    assert errors == []
    assert requests and all(url.startswith(f"{site.as_uri()}/") for url in requests), requests


def artifacts() -> Path:
    folder = Path(os.environ.get("HARNESS_TEST_ARTIFACTS") or ROOT / ".test-artifacts") / "browser"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def stored_results() -> dict[str, dict]:
    return {
        p.parent.name: json.loads(p.read_text(encoding="utf-8"))
        for p in sorted(ROOT.glob("reports/*/results.json"))
    }


def test_the_index_lists_every_module_with_its_figures(page, site):
    page.goto((site / "index.html").as_uri())
    results = stored_results()
    assert page.locator("tr[data-module]").evaluate_all("rows => rows.map(r => r.dataset.module)") == list(
        results
    )
    for module, result in results.items():
        row = page.locator(f'tr[data-module="{module}"]')
        assert row.locator("td.status").inner_text() == result["status_label"]
        assert row.locator("td.coverage").inner_text().startswith(f"{result['overall']['percent']:.1f}%")
        score = (result.get("mutation") or {}).get("overall", {}).get("score")
        if score is not None:
            assert row.locator("td.mutation").inner_text().startswith(f"{score:.1f}%")
    assert page.get_by_alt_text("Overall coverage of every module, run by run").is_visible()


def test_a_module_link_opens_its_report_and_its_coverage(page, site):
    page.goto((site / "index.html").as_uri())
    page.get_by_role("link", name="module-6.7", exact=True).click()
    assert page.url == (site / "module-6.7/index.html").as_uri()
    assert page.get_by_role("heading", level=1).inner_text() == "module-6.7 Completion Status"
    assert page.get_by_role("img", name="Line chart of module-6.7").first.is_visible()
    page.get_by_role("link", name="coverage", exact=True).click()
    assert page.url == (site / "module-6.7/htmlcov/index.html").as_uri()
    assert "Coverage report" in page.title()


def test_the_mutation_reports_filter_shows_only_the_survivors(page, site):
    files = stored_results()["module-6.7"]["mutation"]["files"]
    unchanged = _unchanged_since_mutated("module-6.7")  # whose source mutation.html can show
    path, counts = max(((p, c) for p, c in files.items() if p in unchanged), key=lambda pc: pc[1]["survived"])
    page.goto((site / "module-6.7/mutation.html").as_uri())
    page.get_by_role("link", name=Path(path).name, exact=True).click()
    dots = page.locator("mte-file svg.mutant-dot:visible")
    for box in page.locator("mte-state-filter input[type=checkbox]").all():
        box.set_checked(box.get_attribute("value") == "Survived")
    statuses = dots.evaluate_all("dots => dots.map(d => d.classList.contains('Survived'))")
    assert statuses == [True] * counts["survived"]
    dots.first.click()
    drawer = page.locator("mte-drawer-mutant")  # the mutant's change and the tests that ran it
    assert drawer.get_by_text("Survived (").is_visible()
    assert drawer.get_by_text("Covered by").first.is_visible()


def _unchanged_since_mutated(module_id: str) -> set[str]:
    """The files whose source is still the one module_id's stored mutants were made from."""
    from harness.spec.project import load_project
    from harness.store import layout
    from harness.store import mutation as stored

    doc = stored.load(layout.files(load_project(ROOT), module_id))
    texts = {f: (ROOT / f).read_text(encoding="utf-8") for f in doc["files"] if (ROOT / f).is_file()}
    return set(texts) - set(stored.stale(doc, texts))
