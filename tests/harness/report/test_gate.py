"""`harness check`'s text without a change: the module's lines, annotations and summary alone."""

import json

from harness.report import gate, markdown, terminal
from tests.harness.report.goldtest import gold_text


def test_without_a_result_or_a_change_there_is_nothing_to_say():
    assert (gate.lines(None, None), gate.annotations(None, None), gate.summary(None, None)) == ([], [], "")


def test_without_a_change_the_gate_says_what_the_module_result_says():
    result = json.loads(gold_text("in_progress.results.json"))
    assert gate.lines(result, None) == terminal.shortfall_lines(result) != []
    assert gate.annotations(result, None) == terminal.github_annotations(result) != []
    assert gate.summary(result, None) == markdown.github_summary(result)
