"""Tournaments and matches: the data the realtime layer publishes."""
