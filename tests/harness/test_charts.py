"""Charts: what each one plots against gold files, and SVG that is well-formed, labelled and reproducible.

The inputs are the stored results of test_render_gold.py (gold/*.results.json) and runs made here; the
outputs are gold/charts.*.json, the data each chart plots (points, bar order, marks, alt text). After an
intended change, regenerate them with

    HARNESS_REGEN_GOLD=1 .venv/bin/pytest tests/harness/test_charts.py

and review the diff before committing it.
"""

import hashlib
import json
import os
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from harness.evaluate import history
from harness.report import charts, plot

GOLD = Path(__file__).parent / "gold"
SVG = "{http://www.w3.org/2000/svg}"


def _result(name: str) -> dict:
    return json.loads((GOLD / f"{name}.results.json").read_text(encoding="utf-8"))


def _runs(module: str = "module-6.6") -> list[history.Run]:
    """Four runs: tests failed, a crash (no figure), two passing, then a mutation score after the last."""
    figures = [(61.25, "failed"), (None, "failed"), (70.5, "in_progress"), (88.0, "complete")]
    events = []
    for day, (overall, status) in enumerate(figures, start=1):
        events.append(
            {
                "at": f"2026-01-0{day}T10:00:00+00:00",
                "event": "run_finished",
                "module": module,
                "step": None,
                "commit": f"{day}" * 40,
                "status": status,
                "overall": overall,
            }
        )
    events.append({"event": "mutation_finished", "module": module, "score": 64.321})
    return history.runs_from_events(events, module)


def _many_files(count: int) -> dict:
    """A result with `count` files spread over 0-100%, a target of 80 on all but every tenth file."""
    files = {}
    for i in range(count):
        percent = (i * 37) % 101
        target = None if i % 10 == 9 else 80.0
        met = None if target is None else percent >= target
        files[f"pkg/part{i % 7}/file_{i:05d}.py"] = {"percent": float(percent), "target": target, "met": met}
    return {"module": "big", "files": files, "overall": {"target": 80.0, "percent": 50.0}, "step": None}


def _compare(actual: dict, gold_name: str) -> None:
    gold = GOLD / gold_name
    text = json.dumps(actual, indent=2, ensure_ascii=False) + "\n"
    if os.environ.get("HARNESS_REGEN_GOLD"):
        gold.write_text(text, encoding="utf-8")
    assert text == gold.read_text(encoding="utf-8"), f"{gold_name} differs; see the module docstring"


def test_trend_data_matches_gold():
    _compare(charts.trend_data("module-6.6", _runs(), 85.0), "charts.trend.json")


@pytest.mark.parametrize("name", ["variance", "in_progress", "failed"])
def test_files_data_matches_gold(name):
    _compare(charts.files_data(_result(name)), f"charts.files.{name}.json")


def test_files_data_cut_to_the_furthest_with_a_histogram_matches_gold():
    _compare(charts.files_data(_many_files(40), limit=8), "charts.files.cut.json")


def test_map_data_matches_gold():
    rows = [{"module": m, "percent": p} for m, p in (("module-6.6", 88.0), ("module-6.7", 61.1))]
    histories = {"module-6.6": _runs(), "module-6.7": _runs("module-6.7")[:1]}
    _compare(charts.map_data(rows, histories), "charts.map.json")


def test_trend_keeps_the_latest_runs_and_says_so():
    runs = _runs() * 15  # 60 runs
    data = charts.trend_data("m", runs, None, step=2)
    assert [p["run"] for p in data["points"]] == list(range(11, 61))
    assert data["title"] == "m step 2: overall coverage by run (last 50 of 60)"
    assert data["alt"].endswith(
        "; no overall target; 24 failed runs, 12 without a figure; latest mutation score 64.3%."
    )


def test_ten_thousand_files_plot_the_furthest_under_and_count_every_file():
    data = charts.files_data(_many_files(10_000))
    assert len(data["bars"]) == charts.MAX_FILES
    assert [b["status"] for b in data["bars"]] == ["under"] * charts.MAX_FILES
    margins = [b["percent"] - b["target"] for b in data["bars"]]
    assert margins == sorted(margins) and margins[0] == -80.0
    hist = data["histogram"]
    assert sum(hist["under"]) + sum(hist["met"]) + sum(hist["none"]) == 10_000
    assert (sum(hist["under"]), sum(hist["none"])) == (data["under"], 1_000)


def _texts(svg: bytes) -> list[str]:
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    return ["".join(t.itertext()).strip() for t in root.iter(f"{SVG}text")]


def _drawn() -> dict[str, tuple[bytes, dict]]:
    """Each chart drawn from its data: name -> (SVG, data)."""
    datas = {
        "trend": (plot.trend, charts.trend_data("module-6.6", _runs(), 85.0)),
        "files": (plot.files, charts.files_data(_result("variance"))),
        "files_cut": (plot.files, charts.files_data(_many_files(40), limit=8)),
        "map": (plot.map_trend, charts.map_data([{"module": "m", "percent": 88.0}], {"m": _runs("m")})),
    }
    return {name: (draw(data), data) for name, (draw, data) in datas.items()}


@pytest.fixture(scope="module")
def drawn() -> dict[str, tuple[bytes, dict]]:
    return _drawn()


def test_svgs_are_well_formed_with_title_and_axis_labels_and_nothing_external(drawn):
    for name, (svg, data) in drawn.items():
        texts = _texts(svg)
        for key in ("title", "xlabel", "ylabel"):
            assert data[key] in texts, f"{name}: no {key} {data[key]!r} in the SVG"
        root = ET.fromstring(svg)
        assert not list(root.iter(f"{SVG}script")), name
        links = [v for el in root.iter() for k, v in el.attrib.items() if k.endswith("href")]
        assert all(v.startswith("#") for v in links), f"{name} links outside itself: {links}"
        assert b"<dc:date>" not in svg and b"Matplotlib v" not in svg, name


def test_files_under_target_come_first_with_red_labels(drawn):
    svg, data = drawn["files"]
    assert [b["status"] for b in data["bars"]] == ["under", "met"]
    styles = {"".join(t.itertext()): t.get("style") for t in ET.fromstring(svg).iter(f"{SVG}text")}
    labels = [b["label"] for b in data["bars"]]
    assert [t for t in _texts(svg) if t in labels] == labels  # drawn top to bottom in that order
    for bar in data["bars"]:
        red = "fill: " + plot.COLORS["under"] in styles[bar["label"]]
        assert red == (bar["status"] == "under"), bar


REPRODUCE = """
    import hashlib, json, sys
    sys.path.insert(0, sys.argv[1])
    import test_charts
    from harness.report import badge
    drawn = {name: svg for name, (svg, _) in test_charts._drawn().items()}
    drawn["badge"] = badge.badge_svg("module-6.6", "complete", 88.04)
    print(json.dumps({name: hashlib.sha256(svg).hexdigest() for name, svg in drawn.items()}))
"""


def _hashes_in_child(seed: str) -> dict:
    env = {**os.environ, "PYTHONHASHSEED": seed}
    script = textwrap.dedent(REPRODUCE)
    done = subprocess.run(
        [sys.executable, "-c", script, str(Path(__file__).parent)], capture_output=True, text=True, env=env
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_same_data_gives_the_same_bytes_in_separate_processes(drawn):
    from harness.report import badge

    badge.badge_svg("other", "failed", None)  # anybadge counts badges per process; this one shifts it
    here = {name: hashlib.sha256(svg).hexdigest() for name, (svg, _) in drawn.items()}
    here["badge"] = hashlib.sha256(badge.badge_svg("module-6.6", "complete", 88.04)).hexdigest()
    assert _hashes_in_child("4242") == here  # another process, another string-hash seed


def _write_module_charts(out_dir: Path, result: dict, runs: list) -> list[charts.ChartLink]:
    """As a run draws a module's charts (there, in background jobs): the links, the SVGs drawn."""
    links, drawings = charts.module_charts(out_dir, result, runs)
    charts.draw(drawings)
    return links


def test_write_module_charts_writes_svgs_and_returns_markdown_links(tmp_path):
    links = _write_module_charts(tmp_path, _result("variance"), _runs())
    assert [link.path for link in links] == [charts.TREND_SVG, charts.FILES_SVG]
    for link in links:
        ET.fromstring((tmp_path / link.path).read_bytes())
        assert link.markdown().startswith("![") and link.markdown().endswith(f"]({link.path})")
    section = charts.report_section(links)
    assert section.startswith("## Charts\n\n![Line chart of module-6.6") and section.endswith(".svg)\n")


def test_a_result_without_figures_has_no_files_chart_and_loses_the_old_one(tmp_path):
    _write_module_charts(tmp_path, _result("variance"), _runs())
    links = _write_module_charts(tmp_path, _result("crashed"), _runs())
    assert [link.path for link in links] == [charts.TREND_SVG]
    assert not (tmp_path / charts.FILES_SVG).exists()
    assert _write_module_charts(tmp_path / "none", _result("crashed"), []) == []


def test_alt_text_markdown_is_escaped():
    link = charts.ChartLink("c.svg", "pkg/__init__.py [a] *b* b\\c")
    assert link.markdown() == r"![pkg/\_\_init\_\_.py \[a\] \*b\* b\\c](c.svg)"


def test_map_chart_is_written_beside_the_reports_with_a_link_from_map_md(tmp_path):
    rows = [{"module": "module-6.6", "percent": 88.0}]
    link = charts.write_map_chart(tmp_path / "reports", tmp_path / "MAP.md", rows, {"module-6.6": _runs()})
    assert link.path == "reports/coverage-trend.svg"
    assert (tmp_path / link.path).read_bytes() == charts.map_chart(rows, {"module-6.6": _runs()})
    assert charts.write_map_chart(tmp_path / "reports", tmp_path / "MAP.md", [], {}) is None


def test_without_matplotlib_nothing_is_drawn_and_the_report_says_why(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "harness.report.plot", None)  # as if matplotlib could not be imported
    assert not charts.available()
    assert _write_module_charts(tmp_path, _result("variance"), _runs()) == []
    assert list(tmp_path.iterdir()) == []
    assert charts.report_section([]) == f"## Charts\n\n{charts.UNAVAILABLE}\n"
    rows = [{"module": "module-6.6", "percent": 88.0}]
    assert charts.write_map_chart(tmp_path, tmp_path / "MAP.md", rows, {}) is None
    with pytest.raises(ImportError, match=r"harness\[charts\]"):
        charts.map_chart(rows, {})
