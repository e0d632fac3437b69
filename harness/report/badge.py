"""A shields-style SVG badge per module (module id | status and coverage), drawn by anybadge."""

# Short words fit a badge; the report's labels ("Complete with Documented Variance") do not.
WORDS = {
    "complete": "complete",
    "complete_with_variance": "accepted variance",
    "in_progress": "in progress",
    "failed": "failed",
    "unstable": "unstable",
}
COLORS = {
    "complete": "#4c1",
    "complete_with_variance": "#a4a61d",
    "in_progress": "#fe7d37",
    "failed": "#e05d44",
    "unstable": "#dfb317",
}
UNKNOWN_COLOR = "#9f9f9f"


def value_text(status: str | None, percent: float | None) -> str:
    """The right half: the status, and the overall figure when there is one (a crashed run has none)."""
    word = WORDS.get(status, status or "unknown")
    return word if percent is None else f"{word} {percent:.1f}%"


def badge_svg(module_id: str, status: str | None, percent: float | None) -> bytes | None:
    """The badge as SVG bytes, or None when anybadge is not installed."""
    try:
        import anybadge
    except ImportError:
        return None
    badge = anybadge.Badge(
        module_id, value_text(status, percent), default_color=COLORS.get(status, UNKNOWN_COLOR)
    )
    # anybadge numbers each badge's mask from a per-process counter; one badge per file needs no
    # unique id, and a fixed one keeps the bytes the same whatever else the process drew before.
    badge.mask_str = "harness_badge"
    return badge.badge_svg_text.encode("utf-8")
