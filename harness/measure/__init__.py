"""What a session measured: outcomes, coverage figures, the per-test record."""
