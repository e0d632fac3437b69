"""JWT minting for tests: valid tokens and each kind of bad one an auth middleware must refuse."""

from __future__ import annotations

import contextlib
import secrets
import time
import warnings
from collections.abc import Iterator
from typing import Any

from .config import PluginConfig

# Far above any id a test database hands out, so "unknown" holds without a query.
UNKNOWN_USER_ID = 2_000_000_001
# 64 bytes: as long as HS512's hash, the longest the supported algorithms ask for (RFC 7518 3.2).
WRONG_KEY_BYTES = 64


class TokenFactory:
    """Mints JWTs the way the app expects them (key, claim and algorithm from the ini options)."""

    def __init__(self, config: PluginConfig) -> None:
        self.user_claim = config.jwt_user_claim
        self.algorithm = config.jwt_algorithm
        self._key_setting = config.jwt_key_setting
        # Not derived from the project's key, so it is long enough whatever that key's length.
        self._wrong_key = secrets.token_hex(WRONG_KEY_BYTES)

    @property
    def key(self) -> str:
        """The signing key, read from Django settings at call time so `settings` overrides apply."""
        from django.conf import settings

        return getattr(settings, self._key_setting, None) or settings.SECRET_KEY

    def claims(self, user: Any, ttl: float = 3600, **extra: Any) -> dict[str, Any]:
        """The claims a valid token for `user` carries: user claim, `iat`, `exp` (+ `extra`)."""
        now = int(time.time())
        return {self.user_claim: _user_id(user), "iat": now, "exp": now + int(ttl), **extra}

    def valid(self, user: Any, *, ttl: float = 3600, **extra: Any) -> str:
        """A token for `user` (a user object or its primary key) valid for `ttl` seconds."""
        return self._encode(self.claims(user, ttl, **extra), self.key)

    def expired(self, user: Any, *, ago: float = 60) -> str:
        """A correctly signed token for `user` whose `exp` passed `ago` seconds ago."""
        claims = self.claims(user, ttl=-ago)
        claims["iat"] = claims["exp"] - 3600
        return self._encode(claims, self.key)

    def malformed(self) -> str:
        """A string shaped like a JWT that no JWT library can decode."""
        return "not-a.valid.jwt"

    def wrong_key(self, user: Any) -> str:
        """A token for `user` signed with a key the app does not know."""
        return self._encode(self.claims(user), self._wrong_key)

    def alg_none(self, user: Any) -> str:
        """An unsigned token (`alg: none`) for `user`; it must never be accepted."""
        import jwt

        return jwt.encode(self.claims(user), None, algorithm="none")

    def unknown_user(self, user_id: int = UNKNOWN_USER_ID) -> str:
        """A valid, correctly signed token for a user id that is not in the database."""
        return self.valid(user_id)

    def decode(self, token: str) -> dict[str, Any]:
        """The claims of a token this factory minted (signature and expiry checked)."""
        import jwt

        with _project_key_as_is():
            return jwt.decode(token, self.key, algorithms=[self.algorithm])

    def _encode(self, claims: dict[str, Any], key: str) -> str:
        import jwt

        with _project_key_as_is():
            return jwt.encode(claims, key, algorithm=self.algorithm)


@contextlib.contextmanager
def _project_key_as_is() -> Iterator[None]:
    """Silence PyJWT's InsecureKeyLengthWarning (PyJWT >= 2.10) for the fixture's own calls.

    Tokens must be signed with the project's key whatever its length; whether that
    key is long enough is for the project's own code to hear from PyJWT, not for the
    fixture to fail every test over under `filterwarnings = error`.
    """
    import jwt

    category = getattr(jwt, "InsecureKeyLengthWarning", None)  # absent before PyJWT 2.10
    with warnings.catch_warnings():
        if category is not None:
            warnings.simplefilter("ignore", category)
        yield


def _user_id(user: Any) -> Any:
    return getattr(user, "pk", user)
