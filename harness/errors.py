"""The harness's one exception family; the CLI turns these into exit status 2."""


class HarnessError(Exception):
    """Base of every error the harness reports to the user as one or two lines."""


class SpecError(HarnessError):
    """A module spec or the `[tool.harness]` table is wrong; names the file and key."""


class DataError(HarnessError):
    """Stored data (results, trace, coverage, MAP.md) is missing or unreadable."""


class UsageError(HarnessError):
    """The command line asks for something that cannot be done."""


def yaml_problem(err: Exception) -> str:
    """A YAML parse error in one line: where and what (PyYAML's own text spans several)."""
    mark = getattr(err, "problem_mark", None)
    where = f" at line {mark.line + 1}" if mark else ""
    return f"not valid YAML{where}: {getattr(err, 'problem', None) or err}"
