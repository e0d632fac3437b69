"""`harness diff`: two stored results side by side, file by file (pure)."""


def compare(a: dict, b: dict) -> dict:
    """Per-file and overall comparison of two stored results: A's percent, B's, and B minus A."""
    files = {}
    for path in sorted(set(a.get("files", {})) | set(b.get("files", {}))):
        pa = a.get("files", {}).get(path, {}).get("percent")
        pb = b.get("files", {}).get(path, {}).get("percent")
        files[path] = {"a": pa, "b": pb, "delta": pb - pa if pa is not None and pb is not None else None}
    oa, ob = (r.get("overall", {}).get("percent") for r in (a, b))
    overall = {"a": oa, "b": ob, "delta": ob - oa if oa is not None and ob is not None else None}
    return {"a": a.get("module"), "b": b.get("module"), "files": files, "overall": overall}
