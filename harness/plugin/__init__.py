"""pytest plugin: reusable fixtures for testing Django Channels apps."""
