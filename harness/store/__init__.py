"""The one store: every path, write, stored record and trace event."""
