"""The `harness` command line: a click group whose commands call into the library."""

import click

from harness import __version__


@click.group()
@click.version_option(__version__, prog_name="harness")
def main() -> None:
    """Run module-scoped test suites under coverage and report against per-file targets."""
