"""Benchmark: module 6.7's mutation record (2,143 mutants) in the earlier format and in today's.

    .venv/bin/python -m pytest benchmarks/test_mutation_record.py -p no:randomly -s

The earlier mutation.json named every test of every mutant (27 MB); today's is the
mutation-testing-report-schema document with each test named once (under 3 MB, with the sources the
mutants were made from). Reading is the text parsed and decoded to the in-memory record; writing is the
record encoded and turned into text, as the store does (`store.mutation.from_disk` / `to_disk`; the
earlier writer: `json.dumps(indent=2)`).
The closing table prints the median of 5 rounds of each, side by side, and the sizes; nothing is
asserted but that both read back the same record.
"""

import json
import statistics
import time
from pathlib import Path

from harness.store import mutation as record
from harness.store.mutation_schema import DEFAULT_THRESHOLDS

ROOT = Path(__file__).resolve().parent.parent
ROUNDS = 5


def _median(step) -> float:
    times = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        step()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def test_reading_and_writing_module_6_7s_record(bench_print):
    stored = (ROOT / "reports/module-6.7/mutation.json").read_text(encoding="utf-8")
    doc = record.from_disk(json.loads(stored))  # the committed record, in whichever format it is
    texts = {p: (ROOT / p).read_text(encoding="utf-8") for p in doc["files"] if (ROOT / p).is_file()}
    doc = record.with_texts(doc, texts)
    plain = {k: v for k, v in doc.items() if k != "texts"}
    earlier_text = json.dumps(plain, indent=2, ensure_ascii=False) + "\n"  # what the earlier writer wrote
    new_text = record.to_disk(doc, DEFAULT_THRESHOLDS)
    assert record.from_disk(json.loads(new_text)) == doc
    assert json.loads(earlier_text) == plain
    rows = {
        "read": (
            _median(lambda: record.from_disk(json.loads(earlier_text))),
            _median(lambda: record.from_disk(json.loads(new_text))),
        ),
        "write": (
            _median(lambda: json.dumps(plain, indent=2, ensure_ascii=False)),
            _median(lambda: record.to_disk(doc, DEFAULT_THRESHOLDS)),
        ),
    }
    bench_print("")
    tests = len({t for m in doc["mutants"] for t in m["tests"]})
    bench_print(
        f"module 6.7's mutation record: {record.total(doc['files'])['mutants']} mutants, {tests} tests"
    )
    bench_print(f"{'':8} {'earlier':>12} {'today':>12} {'today/earlier':>14}")
    for name, (before, after) in rows.items():
        bench_print(f"{name:8} {before:11.3f}s {after:11.3f}s {after / before:13.2f}x")
    sizes = len(earlier_text.encode("utf-8")), len(new_text.encode("utf-8"))
    bench_print(f"{'size':8} {sizes[0] / 1e6:10.1f}MB {sizes[1] / 1e6:10.1f}MB {sizes[1] / sizes[0]:13.2f}x")
