"""Charts: what each one plots against gold files, and SVG that is well-formed, labelled and reproducible.

The inputs are the stored results of test_markdown_gold.py (gold/*.results.json) and runs made here;
the outputs are gold/charts.*.json, the data each chart plots (points, bar order, marks, alt text),
compared by `goldtest.py` (a mismatch is kept in actual/ and fails).
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
from harness.spec.project import Project
from harness.store import layout, trace
from tests.harness.report.goldtest import compare, gold_text

SVG = "{http://www.w3.org/2000/svg}"


def _result(name: str) -> dict:
    return json.loads(gold_text(f"{name}.results.json"))


def _runs(module: str = "module-6.6") -> list[history.Run]:
    """Four runs: tests failed, a crash (no figure), two passing, then a mutation score after the last."""
    figures = [(61.25, "failed"), (None, "failed"), (70.5, "in_progress"), (88.0, "complete")]
    events: list[trace.Event] = []
    for day, (overall, status) in enumerate(figures, start=1):
        at, commit = f"2026-01-0{day}T10:00:00+00:00", f"{day}" * 40
        events.append(trace.RunFinished(at=at, module=module, commit=commit, status=status, overall=overall))
    events.append(trace.MutationFinished(module=module, score=64.321))
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
    compare(json.dumps(actual, indent=2, ensure_ascii=False) + "\n", gold_name)


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


def _module_files(tmp_path: Path) -> layout.ModuleFiles:
    return layout.files(Project(tmp_path), "module-6.6")


def test_module_charts_link_a_trend_and_a_files_chart_beside_the_report(tmp_path):
    at = _module_files(tmp_path)
    links, drawings = charts.module_charts(at, _result("variance"), _runs())
    assert [link["path"] for link in links] == [layout.TREND_CHART, layout.FILES_CHART]
    assert [(kind, path) for kind, _, path in drawings] == [
        ("trend", at.trend_chart),
        ("files", at.files_chart),
    ]
    assert all(link["alt"] == data["alt"] for link, (_, data, _) in zip(links, drawings, strict=True))
    for kind, data, _ in drawings:
        ET.fromstring(charts.svg(kind, data))


def test_a_result_without_figures_has_no_files_chart(tmp_path):
    links, drawings = charts.module_charts(_module_files(tmp_path), _result("crashed"), _runs())
    assert [link["path"] for link in links] == [layout.TREND_CHART]
    assert [kind for kind, _, _ in drawings] == ["trend"]
    assert charts.module_charts(_module_files(tmp_path), _result("crashed"), []) == ([], [])


def test_a_chart_drawn_from_the_same_data_is_not_drawn_again(tmp_path):
    at = _module_files(tmp_path)
    _, drawings = charts.module_charts(at, _result("variance"), [])
    [(kind, data, path)] = drawings
    path.parent.mkdir(parents=True)
    path.write_bytes(charts.svg(kind, data))
    assert b"<!-- harness chart " in path.read_bytes().splitlines()[1]
    assert charts.module_charts(at, _result("variance"), [])[1] == []
    assert [kind for kind, _, _ in charts.module_charts(at, _result("failed"), [])[1]] == ["files"]


def test_the_map_chart_is_svg_with_its_alt_text():
    rows = [{"module": "module-6.6", "percent": 88.0}]
    svg, alt = charts.map_chart(rows, {"module-6.6": _runs()})
    assert svg == plot.map_trend(charts.map_data(rows, {"module-6.6": _runs()}))
    assert alt == charts.map_data(rows, {"module-6.6": _runs()})["alt"]
    assert charts.map_chart([], {}) is None


def test_without_matplotlib_nothing_is_drawn(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "harness.report.plot", None)  # as if matplotlib could not be imported
    assert not charts.available()
    assert charts.module_charts(_module_files(tmp_path), _result("variance"), _runs()) == ([], [])
    assert charts.map_chart([{"module": "module-6.6", "percent": 88.0}], {}) is None
