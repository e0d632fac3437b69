"""Module specs (`module.yml` or a pyproject table): parsed once into frozen dataclasses, validated once."""

import json
import re
from pathlib import Path

import yaml

from harness.errors import SpecError, yaml_problem
from harness.spec.metrics import parse_metrics
from harness.spec.model import (
    Baseline,
    ModuleSpec,
    PatchTarget,
    Quarantined,
    SpecSource,
    StabilityPolicy,
    Step,
    Suite,
    Target,
)

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_TOP_KEYS = {
    "id",
    "title",
    "source",
    "suites",
    "targets",
    "overall",
    "stretch",
    "baseline",
    "carry_forward",
    "steps",
    "notes",
    "references",
    "artifacts",
    "metrics",
    "patch",
    "record_tests",
    "stability",
}
_QUARANTINED = "{test: <node id or glob>, reason: <text>}"
_TARGET_KEYS = {"percent", "lines", "branches", "mutation", "warn_only"}
_PATCH_KEYS = {"coverage", "branches", "mutation", "warn_only"}


class _UniqueKeys(yaml.SafeLoader):
    """YAML's safe loader, refusing a mapping that names a key twice (PyYAML keeps the last silently)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep)


def load_spec(path: Path) -> ModuleSpec:
    """Parse and validate the spec at `path`; raises SpecError naming the file and key."""
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeys)
    except OSError as err:
        raise SpecError(f"{path}: cannot read: {err.strerror}") from err
    except yaml.YAMLError as err:
        raise SpecError(f"{path}: {yaml_problem(err)}") from err
    return _Parser(SpecSource(path)).module(data)


def is_module_id(value) -> bool:
    return isinstance(value, str) and bool(_ID.match(value))


def table_name(module_id: str) -> str:
    """The TOML header of a module's table, quoting the id as TOML needs (`"module-6.7"`)."""
    key = module_id if re.fullmatch(r"[A-Za-z0-9_-]+", module_id) else json.dumps(module_id)
    return f"tool.harness.modules.{key}"


def spec_from_table(pyproject: Path, key: str, table) -> ModuleSpec:
    """The spec in `[tool.harness.modules.<key>]`: the key is its id; same keys and checks as module.yml."""
    canonical = json.dumps(table, sort_keys=True, default=str)
    parser = _Parser(SpecSource(pyproject, table_name(key), canonical))
    if not isinstance(table, dict):
        raise SpecError(f"{parser.path}: expected a table of keys")
    if "id" in table and table["id"] != key:
        raise parser.fail("id", f"{table['id']!r} does not agree with the table name {key!r}")
    return parser.module({**table, "id": key})


class _Parser:
    """Carries where the spec came from so every error can name it."""

    def __init__(self, path: SpecSource):
        self.path = path

    def fail(self, key: str, what: str) -> SpecError:
        return SpecError(f"{self.path}: {key}: {what}")

    def module(self, data) -> ModuleSpec:
        if not isinstance(data, dict):
            raise SpecError(f"{self.path}: expected a mapping of keys at the top level")
        self.known(data, _TOP_KEYS, "")
        for key in ("id", "title", "source"):
            if key not in data:
                raise self.fail(key, "required key is missing")
        steps = tuple(self.step(i, s) for i, s in enumerate(self.seq(data, "steps"), 1))
        suites = tuple(self.suite(f"suites[{i}]", s) for i, s in enumerate(self.seq(data, "suites"), 1))
        if not suites and not any(step.suites for step in steps):
            raise self.fail("suites", "no suites to run (give `suites` or steps with suites)")
        return ModuleSpec(
            path=self.path,
            id=self.module_id(data["id"], "id"),
            title=self.text(data["title"], "title"),
            source=self.sources(data["source"]),
            suites=suites,
            steps=steps,
            targets=self.targets(data.get("targets"), "targets", "targets"),
            overall=self.overall(data.get("overall")),
            stretch=self.percent(data["stretch"], "stretch") if data.get("stretch") is not None else None,
            baseline=self.baseline(data.get("baseline")),
            carry_forward_from=self.carry_forward(data.get("carry_forward")),
            notes=self.text(data.get("notes", ""), "notes", allow_empty=True),
            references=self.strings(data.get("references"), "references"),
            artifacts=self.strings(data.get("artifacts"), "artifacts"),
            metrics=parse_metrics(data.get("metrics"), "metrics", "metrics", self.fail),
            patch=self.patch(data.get("patch", None), "patch" in data),
            record_tests=self.flag(data.get("record_tests", False), "record_tests"),
            stability=self.stability(data.get("stability")),
        )

    def known(self, data: dict, allowed: set[str], where: str) -> None:
        for key in data:
            if key not in allowed:
                name = f"{where}.{key}" if where else str(key)
                raise self.fail(name, f"unknown key (allowed: {', '.join(sorted(allowed))})")

    def seq(self, data: dict, key: str) -> list:
        value = data.get(key) or []
        if not isinstance(value, list):
            raise self.fail(key, f"expected a list, got {type(value).__name__}")
        return value

    def text(self, value, key: str, allow_empty: bool = False) -> str:
        if not isinstance(value, str) or (not allow_empty and not value.strip()):
            raise self.fail(key, "expected a non-empty string")
        return value

    def module_id(self, value, key: str) -> str:
        if not is_module_id(value):
            raise self.fail(key, f"{value!r} is not a module id (letters, digits, '.', '_', '-')")
        return value

    def strings(self, value, key: str) -> tuple[str, ...]:
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(key, "expected a list of strings")
        return tuple(value)

    def sources(self, value) -> tuple[str, ...]:
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not items or not all(isinstance(v, str) and v for v in items):
            raise self.fail("source", "expected a path/package or a non-empty list of them")
        return tuple(v.rstrip("/") for v in items)

    def suite(self, key: str, value) -> Suite:
        if isinstance(value, str):
            value = {"path": value}
        if not isinstance(value, dict):
            raise self.fail(key, "expected a path or a mapping with `path`")
        self.known(value, {"path", "k", "markers"}, key)
        if not isinstance(value.get("path"), str) or not value["path"]:
            raise self.fail(f"{key}.path", "required path is missing")
        for opt in ("k", "markers"):
            if opt in value and not isinstance(value[opt], str):
                raise self.fail(f"{key}.{opt}", "expected a string expression")
        return Suite(value["path"], value.get("k"), value.get("markers"))

    def percent(self, value, key: str) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(key, f"expected a percent number, got {value!r}")
        if not 0 <= value <= 100:
            raise self.fail(key, f"{value} is outside 0-100")
        return float(value)

    def target(self, pattern: str, value, key: str, origin: str) -> Target:
        if not isinstance(value, dict):
            return Target(pattern, percent=self.percent(value, key), origin=origin)
        self.known(value, _TARGET_KEYS, key)
        figures = {
            m: self.percent(value[m], f"{key}.{m}")
            for m in ("percent", "lines", "branches", "mutation")
            if m in value
        }
        if not figures:
            raise self.fail(key, "give at least one of percent, lines, branches, mutation")
        warn_only = self.flag(value.get("warn_only", False), f"{key}.warn_only")
        return Target(pattern, warn_only=warn_only, origin=origin, **figures)

    def flag(self, value, key: str) -> bool:
        if not isinstance(value, bool):
            raise self.fail(key, "expected true or false")
        return value

    def patch(self, value, given: bool) -> PatchTarget | None:
        """`patch: {coverage, branches, mutation, warn_only}`, each optional; `patch: {}` gates nothing
        but still asks for the patch's figures."""
        if not given:
            return None
        value = {} if value is None else value
        if not isinstance(value, dict):
            raise self.fail("patch", "expected a mapping of coverage, branches, mutation, warn_only")
        self.known(value, _PATCH_KEYS, "patch")
        metrics = ("coverage", "branches", "mutation")
        figures = {m: self.percent(value[m], f"patch.{m}") for m in metrics if m in value}
        return PatchTarget(**figures, warn_only=self.flag(value.get("warn_only", False), "patch.warn_only"))

    def targets(self, value, key: str, origin: str) -> tuple[Target, ...]:
        if value is None:
            return ()
        if not isinstance(value, dict):
            raise self.fail(key, "expected a mapping of path or glob to percent")
        return tuple(self.target(str(p), v, f"{key}['{p}']", origin) for p, v in value.items())

    def overall(self, value) -> Target | None:
        return None if value is None else self.target("overall", value, "overall", "overall")

    def step(self, index: int, value) -> Step:
        key = f"steps[{index}]"
        if not isinstance(value, dict):
            raise self.fail(key, "expected a mapping with name, suites, targets")
        self.known(value, {"name", "suites", "targets", "metrics"}, key)
        name = self.text(value.get("name"), f"{key}.name")
        suites = value.get("suites") or []
        if not isinstance(suites, list):
            raise self.fail(f"{key}.suites", "expected a list")
        return Step(
            name=name,
            suites=tuple(self.suite(f"{key}.suites[{i}]", s) for i, s in enumerate(suites, 1)),
            targets=self.targets(value.get("targets"), f"{key}.targets", f"step {index}"),
            metrics=parse_metrics(value.get("metrics"), f"{key}.metrics", f"step {index}", self.fail),
        )

    def baseline(self, value) -> Baseline | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = {"module": value}
        if not isinstance(value, dict) or len(value) != 1 or not set(value) <= {"module", "suites"}:
            raise self.fail("baseline", "expected {module: <id>} or {suites: [paths]}")
        if "module" in value:
            return Baseline(module=self.module_id(value["module"], "baseline.module"))
        items = value["suites"]
        if not isinstance(items, list) or not items:
            raise self.fail("baseline.suites", "expected a non-empty list of suites")
        return Baseline(suites=tuple(self.suite(f"baseline.suites[{i}]", s) for i, s in enumerate(items, 1)))

    def carry_forward(self, value) -> str | None:
        if value is None:
            return None
        if not isinstance(value, dict) or set(value) != {"from"}:
            raise self.fail("carry_forward", "expected {from: <module id>}")
        return self.module_id(value["from"], "carry_forward.from")

    def stability(self, value) -> StabilityPolicy:
        if value is None:
            return StabilityPolicy()
        if not isinstance(value, dict):
            raise self.fail("stability", "expected a mapping (flaky, quarantine, reruns, repeat, shuffle)")
        self.known(value, {"flaky", "quarantine", "reruns", "repeat", "shuffle"}, "stability")
        flaky = value.get("flaky", "fail")
        if flaky not in ("warn", "fail"):
            raise self.fail("stability.flaky", f"expected warn or fail, got {flaky!r}")
        entries = value.get("quarantine") or []
        if not isinstance(entries, list):
            raise self.fail("stability.quarantine", f"expected a list of {_QUARANTINED}")
        quarantine = (self.quarantined(f"stability.quarantine[{i}]", q) for i, q in enumerate(entries, 1))
        return StabilityPolicy(
            flaky=flaky,
            quarantine=tuple(quarantine),
            reruns=self.count(value.get("reruns", 0), "stability.reruns", 0),
            repeat=self.count(value.get("repeat", 1), "stability.repeat", 1),
            shuffle=self.flag(value.get("shuffle", False), "stability.shuffle"),
        )

    def quarantined(self, key: str, value) -> Quarantined:
        if not isinstance(value, dict):
            raise self.fail(key, f"expected {_QUARANTINED}")
        self.known(value, {"test", "reason"}, key)
        for name in ("test", "reason"):
            if not isinstance(value.get(name), str) or not value[name].strip():
                raise self.fail(f"{key}.{name}", "expected a non-empty string")
        return Quarantined(value["test"].strip(), value["reason"].strip())

    def count(self, value, key: str, least: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise self.fail(key, f"expected a whole number of at least {least}, got {value!r}")
        return value
