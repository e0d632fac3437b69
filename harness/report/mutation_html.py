"""`mutation.html`: the standard report in the published mutation-testing-elements web component, one file.

The page holds the component's bundle (vendored in harness/report/assets/, see its manifest) and the
report as JSON, inline, so it opens from disk with no server and no network: its Content-Security-Policy
allows no request at all. The component shows every file's source with its mutants at their lines,
filters by status, and for a mutant its change and the tests that ran it.
"""

import html
import json
from functools import cache
from importlib import resources

from harness.store import mutation_schema as schema

ASSET = "mutation-test-elements.js"
MANIFEST = "mutation-testing-elements.manifest.json"
# Inline scripts and styles only (the component adopts its stylesheets, Prism highlights without
# workers); `default-src 'none'` forbids every fetch, image, font and frame.
POLICY = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; font-src data:"
)
PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{policy}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="harness; mutation-testing-elements {version}">
<title>{title}</title>
</head>
<body>
<mutation-test-report-app title-postfix="{title}"></mutation-test-report-app>
<script type="application/json" id="mutation-report">{report}</script>
<script>{bundle}</script>
<script>
document.querySelector("mutation-test-report-app").report =
  JSON.parse(document.getElementById("mutation-report").textContent);
</script>
</body>
</html>
"""


@cache
def bundle() -> tuple[str, str]:
    """The vendored web component's code and version."""
    assets = resources.files("harness.report") / "assets"
    manifest = json.loads((assets / MANIFEST).read_text(encoding="utf-8"))
    return (assets / ASSET).read_text(encoding="utf-8"), manifest["version"]


def render(report: dict, title: str) -> str:
    """The page for a standard document (`mutation_schema.report`). Same report, same bytes."""
    code, version = bundle()
    # `<` escaped in the JSON: no text of a mutant or a source can close the script element.
    data = json.dumps(report, ensure_ascii=False, separators=(",", ":")).replace("<", "\\u003c")
    return PAGE.format(
        policy=POLICY,
        version=html.escape(version),
        title=html.escape(title),
        report=data,
        bundle=code.replace("</script", "<\\/script"),
    )


def page(doc: dict, limits: schema.Thresholds = schema.DEFAULT_THRESHOLDS) -> str:
    """`mutation.html` of a harness mutation record (the in-memory shape, with its `texts`)."""
    return render(schema.report(doc, limits), f"{doc.get('module', 'mutation')} mutation report")
