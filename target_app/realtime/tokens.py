"""JWT tokens: minting, decoding and resolving them to a user, for the WebSocket and HTTP sides alike."""

import time

import jwt
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser

ALGORITHM = "HS256"
REQUIRED_CLAIMS = ("user_id", "iat", "exp")

# The auth errors: `scope["auth_error"]` and the error frame's code on WebSockets, the 401's code on HTTP.
MISSING = "missing"
MALFORMED = "malformed"
EXPIRED = "expired"
BAD_SIGNATURE = "bad_signature"
UNKNOWN_USER = "unknown_user"
INACTIVE_USER = "inactive_user"


def signing_key() -> str:
    return getattr(settings, "JWT_SIGNING_KEY", None) or settings.SECRET_KEY


def create_token(user_id: int, ttl: int | None = None, *, now: float | None = None) -> str:
    """Mint an HS256 token for `user_id`, valid for `ttl` seconds (default `JWT_DEFAULT_TTL`)."""
    issued = int(time.time() if now is None else now)
    lifetime = settings.JWT_DEFAULT_TTL if ttl is None else ttl
    claims = {"user_id": user_id, "iat": issued, "exp": issued + lifetime}
    return jwt.encode(claims, signing_key(), algorithm=ALGORITHM)


def _decode(token: str, **checks: bool) -> dict:
    options = {"require": list(REQUIRED_CLAIMS), **checks}
    return jwt.decode(token, signing_key(), algorithms=[ALGORITHM], options=options)


def decode_user_id(token: str) -> tuple[int | None, str | None]:
    """Return (user_id, None) for a valid token, or (None, auth_error)."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError:
        return None, MALFORMED
    # `alg: none` and every algorithm but ours are forged or foreign tokens, not garbled ones. (A token
    # naming critical extensions, RFC 7515 4.1.11, never gets here: PyJWT >= 2.12 refuses it above.)
    if header.get("alg") != ALGORITHM:
        return None, BAD_SIGNATURE
    try:
        # Signature and shape first, expiry second: PyJWT reads times with int(), so checked the other way
        # round `"exp": true` was "expired" (1970). RFC 7519 times are numbers; anything else is malformed.
        # Only `exp` must wait for the type check: every other time claim PyJWT refuses is malformed anyway.
        claims = _decode(token, verify_exp=False)
        times = [claims[name] for name in ("iat", "exp", "nbf") if name in claims]
        if any(isinstance(value, bool) or not isinstance(value, int | float) for value in times):
            return None, MALFORMED
        _decode(token)
    except jwt.ExpiredSignatureError:
        return None, EXPIRED
    except jwt.InvalidSignatureError:
        return None, BAD_SIGNATURE
    except (jwt.InvalidTokenError, TypeError, ValueError, OverflowError):
        # Older PyJWT versions let odd claim values (e.g. "nbf": null) escape as TypeError.
        return None, MALFORMED
    user_id = claims["user_id"]
    if isinstance(user_id, bool) or not isinstance(user_id, int):
        return None, MALFORMED
    return user_id, None


def authenticate(token: str | None):
    """Return (user, auth_error) for a raw token; the user is AnonymousUser on failure. Sync."""
    if not token:
        return AnonymousUser(), MISSING
    user_id, error = decode_user_id(token)
    if error:
        return AnonymousUser(), error
    user = get_user_model().objects.filter(pk=user_id).first()
    if user is None:
        return AnonymousUser(), UNKNOWN_USER
    if not user.is_active:
        return AnonymousUser(), INACTIVE_USER
    return user, None


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` value, or None."""
    if not authorization:
        return None
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()
