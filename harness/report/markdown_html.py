"""Markdown reports as HTML (markdown-it-py, which rich already brings), each link and image re-aimed."""

from collections.abc import Callable

from markdown_it import MarkdownIt

# `relink(target)` gives the address to use instead, or None: the link becomes plain text, an image its
# alternative text.
Relink = Callable[[str], str | None]


def _parser() -> MarkdownIt:
    # The reports are GitHub-flavoured: tables, ~~strikethrough~~ and a <details> block for long file
    # lists (raw HTML is kept; the site's pages forbid scripts in their Content-Security-Policy).
    return MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])


def render(text: str, relink: Relink) -> str:
    """`text` as an HTML fragment; links and images go through `relink`."""
    md = _parser()
    tokens = md.parse(text)
    for token in tokens:
        _relink_inline(token.children or (), relink)
    return md.renderer.render(tokens, md.options, {})


def _relink_inline(children, relink: Relink) -> None:
    opened: list[bool] = []  # per open link: whether it became plain text
    for child in children:
        if child.type == "link_open":
            target = relink(str(child.attrGet("href") or ""))
            opened.append(target is None)
            if target is None:
                child.tag, child.attrs = "span", {"class": "unlinked"}
            else:
                child.attrSet("href", target)
        elif child.type == "link_close" and opened.pop():
            child.tag = "span"
        elif child.type == "image":
            target = relink(str(child.attrGet("src") or ""))
            if target is None:  # the alternative text stands in for the picture
                child.type, child.tag, child.children = "text", "", None
            else:
                child.attrSet("src", target)
