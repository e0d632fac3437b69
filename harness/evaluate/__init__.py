"""Figures against targets and baselines: the one evaluation and the result it shapes (pure)."""
