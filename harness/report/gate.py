"""`harness check`'s text: the lines, GitHub annotations and summary of the module's result (when it
has one) and of the change's patch document (with --changed)."""

from harness.report import markdown, terminal
from harness.report import patch as render_patch


def lines(result: dict | None, doc: dict | None) -> list[str]:
    """Each file below its target, then the change's affected tests and gate lines."""
    found = terminal.shortfall_lines(result) if result is not None else []
    return found + (
        render_patch.affected_lines(doc) + render_patch.check_lines(doc) if doc is not None else []
    )


def annotations(result: dict | None, doc: dict | None) -> list[str]:
    found = terminal.github_annotations(result) if result is not None else []
    return found + (render_patch.annotations(doc) if doc is not None else [])


def summary(result: dict | None, doc: dict | None) -> str:
    """The Markdown of the step summary and of the pull-request comment."""
    parts = [markdown.github_summary(result)] if result is not None else []
    parts += [render_patch.change_section(doc)] if doc is not None else []
    return "\n".join(parts)
