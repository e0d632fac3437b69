"""`harness mutate`: per-file mutation scores from isolated, plain pytest runs of the covering tests."""
