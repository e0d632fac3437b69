"""mutation.html: one file that opens from disk, with the vendored web component and the report inline."""

import hashlib
import json
import re
from html.parser import HTMLParser
from importlib import resources

from harness.report import mutation_html
from harness.store import mutation as record
from harness.store import mutation_schema as schema

DIFF = "--- a/m.py\n+++ b/m.py\n@@ -1 +1 @@\n-x = '</script><script>alert(1)</script>'\n+x = ''\n"
TEXT = "x = '</script><script>alert(1)</script>'\n"


def doc() -> dict:
    mutant = {
        "id": "1",
        "file": "m.py",
        "line": 1,
        "operator": "string",
        "function": None,
        "diff": DIFF,
        "status": "survived",
        "tests": ["t.py::test_<b>"],
        "rationale": None,
    }
    return {**record.document("mod <1>", ["m.py"], [mutant]), "texts": {"m.py": TEXT}}


class Scripts(HTMLParser):
    """The page's elements with a src or href, and the text of each script element."""

    def __init__(self):
        super().__init__()
        self.linked: list[tuple[str, str]] = []
        self.scripts: list[tuple[dict, str]] = []
        self._open: dict | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.linked += [(tag, attrs[k]) for k in ("src", "href") if k in attrs]
        if tag == "script":
            self._open, self._text = attrs, []

    def handle_data(self, data):
        if self._open is not None:
            self._text.append(data)

    def handle_endtag(self, tag):
        if tag == "script":
            self.scripts.append((self._open, "".join(self._text)))
            self._open = None


def parsed(page: str) -> Scripts:
    parser = Scripts()
    parser.feed(page)
    return parser


def test_the_report_is_inline_and_no_text_in_it_can_end_its_script():
    page = mutation_html.page(doc(), schema.Thresholds(90, 80))
    scripts = parsed(page).scripts
    assert [attrs.get("type") for attrs, _ in scripts] == ["application/json", None, None]
    assert json.loads(scripts[0][1]) == schema.report(doc(), schema.Thresholds(90, 80))
    assert "<title>mod &lt;1&gt; mutation report</title>" in page


def test_the_page_asks_for_nothing_outside_itself():
    page = mutation_html.page(doc())
    assert parsed(page).linked == []  # no script, stylesheet, image or frame is loaded from anywhere
    policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page).group(1)
    assert "default-src 'none'" in policy and "http" not in policy


def test_the_same_record_gives_the_same_bytes():
    assert mutation_html.page(doc()) == mutation_html.page(doc())


def test_the_bundled_component_is_the_published_file_with_its_license():
    assets = resources.files("harness.report") / "assets"
    manifest = json.loads((assets / mutation_html.MANIFEST).read_text(encoding="utf-8"))
    body = (assets / mutation_html.ASSET).read_bytes()
    assert hashlib.sha256(body).hexdigest() == manifest["sha256"]
    assert manifest["license"] == "Apache-2.0"
    assert "Apache License" in (assets / "mutation-testing-elements.LICENSE").read_text(encoding="utf-8")
    assert mutation_html.bundle()[1] == manifest["version"]
