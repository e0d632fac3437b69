"""`serve`'s log filters: a client's malformed frame is one WARNING line; other records pass untouched."""

import logging
import sys

from target_app.serverlog import ClientFaultsWithoutTraceback, uvicorn_log_config


def _record(name: str, msg: str, level: int = logging.ERROR) -> logging.LogRecord:
    try:
        b"\xff".decode()
    except UnicodeDecodeError:
        exc_info = sys.exc_info()
    return logging.LogRecord(name, level, __file__, 1, msg, None, exc_info)


def test_uvicorns_invalid_utf8_report_loses_its_traceback_and_becomes_a_warning():
    record = _record("uvicorn.error", "Invalid UTF-8 sequence received from client.")
    assert ClientFaultsWithoutTraceback().filter(record)
    assert (record.exc_info, record.levelname) == (None, "WARNING")
    assert "Traceback" not in logging.Formatter().format(record)


def test_other_errors_keep_their_traceback():
    for record in (_record("uvicorn.error", "Exception in ASGI application"), _record("target_app", "x")):
        assert ClientFaultsWithoutTraceback().filter(record)
        assert record.exc_info is not None and record.levelname == "ERROR"


def test_every_uvicorn_handler_gets_both_filters():
    base = {"version": 1, "handlers": {"default": {"class": "logging.StreamHandler"}, "access": {}}}
    config = uvicorn_log_config(base)
    assert set(config["filters"]) == {"redact_tokens", "client_faults"}
    assert all(h["filters"] == ["redact_tokens", "client_faults"] for h in config["handlers"].values())
