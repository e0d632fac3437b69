"""pytest node ids: the collecting file and class a node id names (the spec's quarantine, the records,
the outcome log and the replays all split them the same way)."""


def split_nodeid(nodeid: str) -> tuple[str, str]:
    """The collecting file and the (dotted, for nested) class of a node id; "" for module level."""
    parts = nodeid.split("[", 1)[0].split("::")  # a parameter id may itself contain "::"
    return parts[0], ".".join(parts[1:-1])
