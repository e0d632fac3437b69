"""How a row's state against its targets shows: in Markdown, and on the terminal."""

MARKS = {
    "met": ("✅ met", "ok"),
    "warn": ("⚠️ below (warn only)", "below (warn only)"),
    "accepted": ("☑️ accepted variance", "accepted variance"),
    "below": ("❌ below", "BELOW"),
    "none": ("—", ""),
}
