"""Every text and picture the harness shows: Markdown, terminal, JUnit, charts, badges."""
