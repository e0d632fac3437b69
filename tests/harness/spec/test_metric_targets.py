"""`metrics:` targets in a spec, module-wide and per step: what they parse into, and every way to get
one wrong stopping with the file and the key."""

from pathlib import Path

import pytest

from harness.errors import SpecError
from harness.spec.model import MetricBound, MetricTarget
from harness.spec.parse import load_spec, spec_from_table

HEAD = "id: mod-a\ntitle: A\nsource: calc\nsuites: [suites/tests/test_ops.py]\n"


def _load(tmp_path, text: str):
    path = tmp_path / "module.yml"
    path.write_text(HEAD + text, encoding="utf-8")
    return load_spec(path)


def test_module_wide_and_step_targets(tmp_path):
    spec = _load(
        tmp_path,
        "metrics:\n"
        "  ws_connect_ms: {p95: {max: 50}, p50: {min: 1, max: 20}, repeat: 3}\n"
        "  msgs_per_s: {min: 5000}\n"
        "  refused_over_limit: {equals: 1, warn_only: true}\n"
        "steps:\n"
        "  - name: Connect\n"
        "    suites: [suites/tests/test_box.py]\n"
        "    metrics: {ws_connect_ms: {max: {max: 80}}}\n",
    )
    assert spec.metrics == (
        MetricTarget(
            "ws_connect_ms", (MetricBound("p95", max=50.0), MetricBound("p50", max=20.0, min=1.0)), repeat=3
        ),
        MetricTarget("msgs_per_s", (MetricBound("mean", min=5000.0),)),
        MetricTarget("refused_over_limit", (MetricBound("mean", equals=1.0),), warn_only=True),
    )
    assert spec.steps[0].metrics == (
        MetricTarget("ws_connect_ms", (MetricBound("max", max=80.0),), origin="step 1"),
    )


def test_a_pyproject_table_takes_the_same_keys(tmp_path):
    table = {"title": "A", "source": "calc", "suites": ["t"], "metrics": {"lat": {"p99": {"max": 9.5}}}}
    spec = spec_from_table(tmp_path / "pyproject.toml", "mod-a", table)
    assert spec.metrics == (MetricTarget("lat", (MetricBound("p99", max=9.5),)),)
    with pytest.raises(
        SpecError, match=r"\[tool.harness.modules.mod-a\]: metrics\['lat'\].p99.max: expected a number"
    ):
        spec_from_table(
            tmp_path / "pyproject.toml", "mod-a", {**table, "metrics": {"lat": {"p99": {"max": "9"}}}}
        )


ERRORS = {
    "not a mapping": ("metrics: [lat]\n", "metrics: expected a mapping of metric name to targets"),
    "empty": ("metrics: {}\n", "metrics: expected a mapping of metric name to targets"),
    "name with a space": (
        "metrics: {'ws connect': {max: 1}}\n",
        "metrics['ws connect']: a metric's name is one word",
    ),
    "a bare number": ("metrics: {lat: 50}\n", "metrics['lat']: expected {STAT: {max|min|equals: number}} or"),
    "unknown stat": (
        "metrics: {lat: {p90: {max: 1}}}\n",
        "metrics['lat'].p90: unknown key (allowed: count, equals,",
    ),
    "unknown bound": (
        "metrics: {lat: {p95: {below: 1}}}\n",
        "metrics['lat'].p95.below: unknown bound (allowed:",
    ),
    "bound not a number": (
        "metrics: {lat: {p95: {max: fast}}}\n",
        "metrics['lat'].p95.max: expected a number, got 'fast'",
    ),
    "bound a boolean": ("metrics: {lat: {min: true}}\n", "metrics['lat'].min: expected a number, got True"),
    "bound not finite": ("metrics: {lat: {max: .inf}}\n", "metrics['lat'].max: expected a number, got inf"),
    "equals with min": (
        "metrics: {lat: {equals: 1, min: 0}}\n",
        "metrics['lat']: equals cannot be combined with min",
    ),
    "equals with max under a stat": (
        "metrics: {lat: {count: {equals: 3, max: 4}}}\n",
        "metrics['lat'].count: equals cannot be combined",
    ),
    "min above max": (
        "metrics: {lat: {p95: {min: 60, max: 50}}}\n",
        "metrics['lat'].p95: min 60 is above max 50",
    ),
    "stat without bounds": ("metrics: {lat: {p95: {}}}\n", "metrics['lat'].p95: give max, min or equals"),
    "no bound at all": ("metrics: {lat: {warn_only: true}}\n", "metrics['lat']: give at least one bound"),
    "bare stat number": (
        "metrics: {lat: {p95: 50}}\n",
        "metrics['lat'].p95: expected {max|min|equals: number} under",
    ),
    "bare and stats mixed": (
        "metrics: {lat: {max: 100, p95: {max: 50}}}\n",
        "metrics['lat']: mixes bare bounds (max) with statistics (p95); put the bare ones under `mean:`",
    ),
    "warn_only not a boolean": (
        "metrics: {lat: {max: 1, warn_only: yes please}}\n",
        "metrics['lat'].warn_only: expected true",
    ),
    "repeat zero": (
        "metrics: {lat: {max: 1, repeat: 0}}\n",
        "metrics['lat'].repeat: expected a whole number of repetitions",
    ),
    "repeat fractional": (
        "metrics: {lat: {max: 1, repeat: 2.5}}\n",
        "metrics['lat'].repeat: expected a whole number",
    ),
    "in a step": (
        "steps: [{name: S, metrics: {lat: {p95: {max: x}}}}]\n",
        "steps[1].metrics['lat'].p95.max: expected a number",
    ),
}


@pytest.mark.parametrize("case", sorted(ERRORS))
def test_a_wrong_metrics_key_names_the_file_and_key(tmp_path, case):
    text, message = ERRORS[case]
    with pytest.raises(SpecError) as caught:
        _load(tmp_path, text)
    assert str(caught.value).startswith(f"{tmp_path / 'module.yml'}: ")
    assert message in str(caught.value)


def test_harness_run_stops_on_a_wrong_metrics_key_before_any_test(throwaway):
    spec = throwaway.write("suites/mod-a/module.yml", HEAD + "metrics: {lat: {p95: {max: 50, equals: 1}}}\n")
    outcome = throwaway.harness("run", "mod-a")
    assert outcome.exit_code == 2
    assert outcome.output == f"Error: {spec}: metrics['lat'].p95: equals cannot be combined with min or max\n"
    assert not (throwaway.root / "trace.yml").exists()


def test_the_documented_example_parses_as_the_docs_describe(tmp_path):
    docs = (Path(__file__).parents[3] / "docs" / "harness.md").read_text(encoding="utf-8")
    section = docs.split("## Measured figures (`metrics:`)")[1].split("### Targets")[1]
    example = section.split("```yaml\n")[1].split("```")[0]
    text = example.replace("suites: [suites/perf/test_connect.py]", "suites: [suites/tests/test_box.py]")
    spec = _load(tmp_path, text)
    assert [(t.name, t.bounds, t.warn_only, t.repeat) for t in spec.metrics] == [
        ("ws_connect_ms", (MetricBound("p95", max=50.0), MetricBound("p50", min=1.0, max=20.0)), False, 3),
        ("msgs_per_s", (MetricBound("mean", min=5000.0),), False, 1),
        ("refused_over_limit", (MetricBound("mean", equals=1.0),), True, 1),
    ]
    assert spec.steps[0].metrics[0].bounds == (MetricBound("max", max=80.0),)
