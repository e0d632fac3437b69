"""A logging filter that keeps bearer tokens out of server logs."""

import logging
import re

# `?token=…` / `&token=…` in a logged path, and `Bearer …` in a logged header.
_TOKEN = re.compile(r"((?:[?&]token=)|(?:Bearer\s+))[^\s&\"']+", re.IGNORECASE)


def redact(text: str) -> str:
    return _TOKEN.sub(r"\1[redacted]", text)


class RedactTokens(logging.Filter):
    """Replaces tokens with `[redacted]` in each record's message and arguments.

    Arguments are redacted one by one rather than folded into the message, because formatters such as
    uvicorn's access formatter read `record.args` positionally.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(arg) if isinstance(arg, str) else arg for arg in record.args)
        elif isinstance(record.args, dict):
            record.args = {key: redact(v) if isinstance(v, str) else v for key, v in record.args.items()}
        return True
