"""nox sessions; dependencies come from pyproject.toml (extras, dependency groups), never repeated here."""

import nox

nox.options.default_venv_backend = "venv"
PYPROJECT = nox.project.load_toml("pyproject.toml")


# The repository's checkout as its tests need it: harness with the fixtures' extra, editable, plus the
# reference app's and the test tools' groups. target_app itself runs from the checkout, never installed.
CHECKOUT = ("-e", ".[channels]")


@nox.session(python="3.11")
def tests(session: nox.Session) -> None:
    """The full test run: the project's own tests and the module suites."""
    session.install(*CHECKOUT, *nox.project.dependency_groups(PYPROJECT, "tests"))
    session.run("python", "-m", "pytest", *session.posargs)


@nox.session(python="3.11", venv_backend="uv")
def tests_lowest(session: nox.Session) -> None:
    """The test run on the lowest versions pyproject.toml allows: the lower bounds are tested, not guessed."""
    groups = nox.project.dependency_groups(PYPROJECT, "tests")
    session.install("--resolution=lowest-direct", *CHECKOUT, *groups)
    session.run("python", "-m", "pytest", *session.posargs)


@nox.session(venv_backend="uv")  # nox's own Python, whichever bootstrap.sh chose
def wheel(session: nox.Session) -> None:
    """Build the sdist and wheel, install them as users do (plain and [channels]), check what they bring.

    tests/packaging/check_wheel.py: no Django, Channels or target_app in a plain install, the CLI works
    there, and a strict plain project's pytest outcomes are the same with harness installed or not.
    """
    session.install(*nox.project.dependency_groups(PYPROJECT, "wheel"))
    # From its own directory: the checkout's harness.egg-info (written by the build) stays off sys.path.
    session.chdir("tests/packaging")
    session.run("python", "-m", "pytest", *session.posargs)


@nox.session(python="3.11")
def lint(session: nox.Session) -> None:
    """ruff over the code."""
    session.install(*nox.project.dependency_groups(PYPROJECT, "lint"))
    session.run("ruff", "check", "harness", "target_app", "tests", "suites")


@nox.session(python="3.11")
def record(session: nox.Session) -> None:
    """Run the bundled modules and refresh the committed record (reports/, trace.yml, MAP.md)."""
    session.install(*CHECKOUT, *nox.project.dependency_groups(PYPROJECT, "tests"))
    # 6.6 and 6.7 five times in shuffled order: their record carries the stability section (no flaky or
    # order-dependent test, no unstable line). 6.8 loads the served app once (about two minutes) and
    # takes 6.7's fresh figures as its baseline.
    runs = {"module-6.6": ("--repeat", "5", "--shuffle"), "module-6.7": ("--repeat", "5", "--shuffle")}
    modules = (*runs, "module-6.8")
    for module in modules:
        session.run("harness", "run", module, *runs.get(module, ()))
    # coverage.py writes a `*` .gitignore into htmlcov/, so pages of files new since the record was
    # first committed would be left out of git: stage the HTML report whole.
    htmlcov = [f"reports/{module}/htmlcov" for module in modules]
    session.run("git", "add", "--force", *htmlcov, external=True)
