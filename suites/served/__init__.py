"""target_app served for real (`python -m target_app serve`) and real clients, for tests/app and suites."""
