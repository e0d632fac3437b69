"""nox sessions; dependencies come from pyproject.toml's dependency groups, never repeated here."""

import nox

nox.options.default_venv_backend = "venv"
PYPROJECT = nox.project.load_toml("pyproject.toml")


@nox.session(python="3.11")
def tests(session: nox.Session) -> None:
    """The full test run: the project's own tests and the module suites."""
    session.install("-e", ".", *nox.project.dependency_groups(PYPROJECT, "tests"))
    session.run("python", "-m", "pytest", *session.posargs)


@nox.session(python="3.11", venv_backend="uv")
def tests_lowest(session: nox.Session) -> None:
    """The test run on the lowest versions pyproject.toml allows: the lower bounds are tested, not guessed."""
    groups = nox.project.dependency_groups(PYPROJECT, "tests")
    session.install("--resolution=lowest-direct", "-e", ".", *groups)
    session.run("python", "-m", "pytest", *session.posargs)


@nox.session(python="3.11")
def lint(session: nox.Session) -> None:
    """ruff over the code."""
    session.install(*nox.project.dependency_groups(PYPROJECT, "lint"))
    session.run("ruff", "check", "harness", "target_app", "tests", "suites")


@nox.session(python="3.11")
def record(session: nox.Session) -> None:
    """Run the bundled modules and refresh the committed record (reports/, trace.yml, MAP.md)."""
    session.install("-e", ".", *nox.project.dependency_groups(PYPROJECT, "tests"))
    for module in ("module-6.6", "module-6.7"):
        session.run("harness", "run", module)
