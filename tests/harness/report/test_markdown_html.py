"""Markdown reports as HTML: GitHub-flavoured tables and <details> kept, links re-aimed or made text."""

from harness.report.markdown_html import render


def test_tables_and_details_render_and_links_go_through_relink():
    text = (
        "| File | % |\n|---|--:|\n| [a.py](a.md) | 90 |\n\n<details><summary>more</summary>\n\n"
        "[kept](b.html) [gone](c.md) [gone](c.md) ![chart](d.svg)\n</details>\n"
    )
    html = render(text, lambda target: {"a.md": "a.html", "b.html": "b.html"}.get(target))
    assert '<td><a href="a.html">a.py</a></td>' in html and '<td style="text-align:right">90</td>' in html
    assert "<details><summary>more</summary>" in html
    assert html.count('<span class="unlinked">gone</span>') == 2  # every unlinked link is closed as a span
    assert '<a href="b.html">kept</a>' in html and "<img" not in html and "chart" in html
