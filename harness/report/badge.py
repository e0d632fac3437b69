"""A shields-style SVG badge per module (module id | status and coverage), drawn by anybadge."""

import os
from pathlib import Path

from harness.report.charts import markdown_image
from harness.store import disk

BADGE_SVG = "badge.svg"
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


def alt_text(module_id: str, status: str | None, percent: float | None) -> str:
    return f"{module_id}: {value_text(status, percent)}"


def badge_svg(module_id: str, status: str | None, percent: float | None) -> bytes | None:
    """The badge as SVG bytes, or None when anybadge (the `charts` extra) is not installed."""
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


def write_badge(out_dir: Path, result: dict) -> Path | None:
    """Write `out_dir/badge.svg` for the result; None (and nothing written) without anybadge."""
    svg = badge_svg(result["module"], result.get("status"), (result.get("overall") or {}).get("percent"))
    if svg is None:
        return None
    disk.atomic_write(out_dir / BADGE_SVG, svg)
    return out_dir / BADGE_SVG


def markdown(badge_path: Path, markdown_dir: Path, result: dict, link: str | None = None) -> str:
    """`![alt](path)` for a Markdown file in `markdown_dir`, wrapped in a link to `link` when given."""
    path = Path(os.path.relpath(badge_path, markdown_dir)).as_posix()
    alt = alt_text(result["module"], result.get("status"), (result.get("overall") or {}).get("percent"))
    image = markdown_image(alt, path)
    return f"[{image}]({link})" if link else image
