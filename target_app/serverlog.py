"""The log `serve` writes: tokens redacted everywhere, a client's bad frame one line without a traceback."""

import logging

from target_app.logredact import RedactTokens

# uvicorn's messages for what a client sent wrong (`logger.exception` in its WebSocket protocol).
CLIENT_FAULTS = frozenset({"Invalid UTF-8 sequence received from client."})


class ClientFaultsWithoutTraceback(logging.Filter):
    """Logs uvicorn's reports of a client's malformed input as one WARNING line, without the traceback.

    A text frame that is not UTF-8 is the client's fault, answered with close 1007; uvicorn logs it with
    `logger.exception`, so any client could write tracebacks into the server's log at will, and a
    traceback in the log is what monitoring (and these suites) take for a server bug.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith("uvicorn") and record.msg in CLIENT_FAULTS:
            record.exc_info = record.exc_text = None
            record.levelno, record.levelname = logging.WARNING, logging.getLevelName(logging.WARNING)
        return True


def uvicorn_log_config(base: dict) -> dict:
    """uvicorn's logging config with both filters on every handler."""
    filters = {"redact_tokens": {"()": RedactTokens}, "client_faults": {"()": ClientFaultsWithoutTraceback}}
    config = {**base, "filters": {**base.get("filters", {}), **filters}}
    config["handlers"] = {
        name: {**handler, "filters": [*handler.get("filters", []), *filters]}
        for name, handler in base["handlers"].items()
    }
    return config
