"""The step labels the session plugin gives coverage contexts: in pytest's process and in ones tests start."""

import json

from harness.run.env import STEPS_ENV
from harness.run.plugin import steps_label, subprocess_context

STEPS = [(1, ("suites/m/test_load.py",)), (2, ("suites/m/test_load.py", "suites/m/sec")), (3, ("x.py::t",))]


def test_a_test_is_labelled_with_every_step_that_holds_it():
    assert steps_label(STEPS, "suites/m/test_load.py::test_fanout") == "harness-steps:1,2"
    assert steps_label(STEPS, "suites/m/sec/test_jwt.py::test_alg[none]") == "harness-steps:2"
    assert steps_label(STEPS, "x.py::t[1]") == "harness-steps:3"
    # In no step: a path's prefix is not the path.
    assert steps_label(STEPS, "suites/m/test_loader.py::test") == "harness-steps:"


def test_a_started_process_gets_the_label_of_the_test_that_started_it(monkeypatch):
    monkeypatch.setenv(STEPS_ENV, json.dumps([[number, list(paths)] for number, paths in STEPS]))
    assert subprocess_context("suites/m/sec/test_jwt.py::test_alg") == "harness-steps:2"


def test_outside_a_stepped_harness_run_there_is_no_label(monkeypatch):
    monkeypatch.delenv(STEPS_ENV, raising=False)
    assert subprocess_context("suites/m/test_load.py::test_fanout") is None
