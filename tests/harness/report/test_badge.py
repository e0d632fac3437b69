"""The module badge: what it says, well-formed SVG, the same bytes for the same result."""

import sys
import xml.etree.ElementTree as ET

import pytest

from harness.report import badge

SVG = "{http://www.w3.org/2000/svg}"


@pytest.mark.parametrize(
    ("status", "percent", "text"),
    [
        ("complete", 97.94, "complete 97.9%"),
        ("complete_with_variance", 85.8, "accepted variance 85.8%"),
        ("in_progress", 61.1111, "in progress 61.1%"),
        ("failed", 50.0, "failed 50.0%"),  # tests failed, coverage was measured: the report shows it too
        ("failed", None, "failed"),  # a crash has no figure, never 0%
        ("something_new", None, "something_new"),
        (None, None, "unknown"),
    ],
)
def test_value_text(status, percent, text):
    assert badge.value_text(status, percent) == text


def _texts(svg: bytes) -> list[str]:
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    return ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]


@pytest.mark.parametrize(
    ("status", "color"),
    [("complete", "#4c1"), ("in_progress", "#fe7d37"), ("failed", "#e05d44"), ("x", "#9f9f9f")],
)
def test_badge_says_module_and_value_in_the_status_colour(status, color):
    svg = badge.badge_svg("module-6.7", status, 71.04)
    assert set(_texts(svg)) == {"module-6.7", badge.value_text(status, 71.04)}
    assert f'fill="{color}"'.encode() in svg.lower()


def test_the_same_result_gives_the_same_bytes_whatever_was_drawn_before():
    first = badge.badge_svg("mod-a", "complete", 90.0)
    badge.badge_svg("mod-b", "failed", None)
    assert badge.badge_svg("mod-a", "complete", 90.0) == first


def test_without_anybadge_there_is_no_badge(monkeypatch):
    monkeypatch.setitem(sys.modules, "anybadge", None)  # as if anybadge were not installed
    assert badge.badge_svg("mod-a", "complete", 90.0) is None
