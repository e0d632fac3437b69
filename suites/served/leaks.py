"""What no answer of the served app and no line of its log may hold: tokens, tracebacks, others' data."""

import re

# A JWT's header is base64url JSON, so every token starts `eyJ`.
JWT_SHAPE = re.compile(r"eyJ[\w-]{6,}\.[\w-]+")
# What a Python traceback or a debug page puts in front of a reader.
TRACEBACK_MARKS = ("Traceback (most recent call last)", 'File "/', "Exception Value:", "site-packages")


def leaks(text: str, *secrets: str) -> list[str]:
    """What in `text` should not be there: any of `secrets` (tokens, other users' names), a JWT, a
    traceback. Empty when the text is clean."""
    found = [secret for secret in secrets if secret and secret in text]
    found += JWT_SHAPE.findall(text)
    found += [mark for mark in TRACEBACK_MARKS if mark in text]
    return found
