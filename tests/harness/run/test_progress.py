"""The progress display: a plain line every 10 s off a terminal, a live bar on one, nothing when quiet."""

import io

from harness.run import progress
from harness.run.session import _Tail


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_plain_lines_every_ten_seconds():
    out, clock = io.StringIO(), FakeClock()
    shown = progress.PlainLines(out, clock=clock)
    shown.start("pytest")
    for seconds, done in ((4, 10), (10, 20), (15, 30), (21, 40)):
        clock.now = 100.0 + seconds
        shown.update(done, 278, 1)
    assert out.getvalue().splitlines() == [
        "    20/278 tests, 1 failed, 0:10 elapsed",
        "    40/278 tests, 1 failed, 0:21 elapsed",
    ]


def test_status_text_before_collection_finishes():
    assert progress.status_text(3, None, 0, 75) == "3 tests, 0 failed, 1:15 elapsed"


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_the_display_fits_the_output():
    assert type(progress.for_run(quiet=False, verbose=False, stream=io.StringIO())) is progress.PlainLines
    assert type(progress.for_run(quiet=False, verbose=False, stream=Terminal())) is progress.LiveBar
    assert type(progress.for_run(quiet=True, verbose=False, stream=Terminal())) is progress.Silent
    assert type(progress.for_run(quiet=False, verbose=True, stream=Terminal())) is progress.Silent


def test_live_bar_draws_and_clears_on_a_terminal():
    out = Terminal()
    bar = progress.LiveBar(out)
    bar.start("pytest")
    bar.update(5, 10, 1)
    bar.stop()
    assert "5/10" in out.getvalue() and "1 failed" in out.getvalue()


def test_tail_reads_only_complete_new_records(tmp_path):
    records = tmp_path / "tests-1.jsonl"
    records.write_text('{"event": "collected", "count": 3}\n{"event": "test", "outcome": "passed"}\n{"ev')
    tail = _Tail(records)
    assert tail.read() == (1, 3, 0)
    with records.open("a") as handle:
        handle.write('ent": "test", "outcome": "failed"}\n')
    assert tail.read() == (2, 3, 1)
    assert tail.read() == (2, 3, 1)  # nothing new: nothing counted twice
