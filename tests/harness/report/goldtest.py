"""Comparing output with stored gold files, as coverage.py's tests/goldtest.py does.

A mismatch writes what was produced to `actual/<name>` beside `gold/` and fails, naming both files:
look at the difference, and if it is intended, accept it with the separate, explicit step

    .venv/bin/python -m tests.harness.report.goldtest    # copies every actual/ file over its gold file

No environment variable or option makes a comparison pass.
"""

import shutil
import sys
from pathlib import Path

HERE = Path(__file__).parent
GOLD = HERE / "gold"
ACTUAL = HERE / "actual"


def gold_text(name: str) -> str:
    return (GOLD / name).read_text(encoding="utf-8")


def compare(actual: str, name: str) -> None:
    """Fail unless `actual` is the text of gold file `name`; on a mismatch keep `actual/<name>`."""
    gold = GOLD / name
    expected = gold.read_text(encoding="utf-8") if gold.is_file() else None
    kept = ACTUAL / name
    if actual == expected:
        kept.unlink(missing_ok=True)
        return
    ACTUAL.mkdir(exist_ok=True)
    kept.write_text(actual, encoding="utf-8")
    raise AssertionError(
        f"{name} differs from its gold file: compare {kept} with {gold}"
        " (`python -m tests.harness.report.goldtest` accepts it)"
    )


def accept() -> list[str]:
    """Copy every file in `actual/` over its gold file; the names accepted."""
    names = sorted(p.name for p in ACTUAL.iterdir()) if ACTUAL.is_dir() else []
    for name in names:
        shutil.copyfile(ACTUAL / name, GOLD / name)
        (ACTUAL / name).unlink()
    return names


if __name__ == "__main__":
    accepted = accept()
    print("\n".join(f"accepted {name}" for name in accepted) or "nothing to accept (actual/ is empty)")
    sys.exit(0)
