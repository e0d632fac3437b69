"""Plain-text tables for the terminal: columns padded to their widest cell, and dates as people read them."""

import datetime as dt


def table(head: tuple[str, ...], body: list[tuple[str, ...]], align: str) -> list[str]:
    """The head and body rows with each column as wide as its widest cell; `align` has a `<` or `>` a
    column. Trailing spaces are dropped."""
    widths = [max(len(row[i]) for row in [head, *body]) for i in range(len(head))]
    return [
        "  ".join(f"{cell:{a}{w}}" for cell, a, w in zip(row, align, widths, strict=True)).rstrip()
        for row in [head, *body]
    ]


def when(at: str | None) -> str:
    """`2026-01-02 10:00` from an ISO timestamp; `—` for none; the text itself when it is not one."""
    try:
        return dt.datetime.fromisoformat(at).strftime("%Y-%m-%d %H:%M") if at else "—"
    except ValueError:
        return at
