"""The realtime wire protocol in one place: close codes, roles, frames, frame parsing and id checks."""

import json
import math

# Close codes (docs/protocol.md).
CLOSE_INVALID_ID = 4000
CLOSE_UNAUTHENTICATED = 4001
CLOSE_ORIGIN = 4003
CLOSE_NOT_FOUND = 4004
CLOSE_HEARTBEAT = 4008
CLOSE_PAYLOAD_TOO_LARGE = 4009
CLOSE_RATE_LIMITED = 4029
CLOSE_UNAVAILABLE = 1011  # standard "internal error": the channel layer cannot be reached

# Roles, most privileged first: a user gets the first that applies (`user_role`).
ORGANIZER = "organizer"
ADMIN = "admin"
PARTICIPANT = "participant"
SPECTATOR = "spectator"
# Who may announce to a tournament and change a match over HTTP.
MANAGERS = frozenset({ORGANIZER, ADMIN})
SCORE_REPORTERS = MANAGERS | {PARTICIPANT}


def user_role(user, organizer_id: int, participant: bool) -> str:
    """The user's role around a tournament organized by `organizer_id`; admins are staff or superusers."""
    if user.pk == organizer_id:
        return ORGANIZER
    if user.is_staff or user.is_superuser:
        return ADMIN
    return PARTICIPANT if participant else SPECTATOR


def may_manage(user, organizer_id: int) -> bool:
    """The organizer/admin rule: whether `user` is the organizer or an admin."""
    return user_role(user, organizer_id, participant=False) in MANAGERS


# -- frames -----------------------------------------------------------------------------------------


def server_frame(frame_type: str, data: dict) -> str:
    """`{"type": frame_type, "data": data}` as sent to a client."""
    return json.dumps({"type": frame_type, "data": data}, allow_nan=False)


def error_frame(code: str, message: str, data: dict | None = None) -> str:
    """`{"type": "error", "code": code, "message": message}` (plus `data` when given) as sent to a client."""
    frame = {"type": "error", "code": code, "message": message}
    if data is not None:
        frame["data"] = data
    return json.dumps(frame, allow_nan=False)


class FrameError(Exception):
    """A client frame the protocol rejects; carries the error code to answer with."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _reject_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("number out of range")
    return value


def parse_frame(text_data: str | None, bytes_data: bytes | None) -> dict:
    """Decode one client frame into a dict with a string `type`, or raise FrameError."""
    if text_data is None:
        raise FrameError("invalid_json", "binary frames are not supported; send JSON text")
    try:
        frame = json.loads(text_data, parse_constant=_reject_constant, parse_float=_finite_float)
    except (ValueError, RecursionError):  # RecursionError: pathologically nested arrays
        raise FrameError("invalid_json", "frame is not valid JSON") from None
    if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
        raise FrameError("invalid_schema", "a frame is a JSON object with a string 'type'")
    return frame


def frame_data(frame: dict) -> dict:
    """The frame's `data` object, or FrameError (`invalid_schema`)."""
    data = frame.get("data")
    if not isinstance(data, dict):
        raise FrameError("invalid_schema", "'data' must be an object")
    return data


# The largest primary key a database column holds (signed 64-bit): a longer id names no row.
MAX_KEY = 2**63 - 1


def positive_id(raw) -> int | None:
    """The path id as an int, or None when it is missing or not a positive integer.

    An id beyond MAX_KEY comes back as MAX_KEY + 1, a positive integer no row has: int() refuses
    strings of over 4300 digits (a ValueError that crashed the consumer), and a path can be longer.
    """
    if not isinstance(raw, str) or not raw.isascii() or not raw.isdigit():
        return None
    digits = raw.lstrip("0")
    if not digits:
        return None
    return int(digits) if len(digits) <= len(str(MAX_KEY)) else MAX_KEY + 1
