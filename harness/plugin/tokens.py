"""JWT minting for tests: valid tokens and each kind of bad one an auth middleware must refuse."""

from __future__ import annotations

import time
from typing import Any

from .config import PluginConfig

# Far above any id a test database hands out, so "unknown" holds without a query.
UNKNOWN_USER_ID = 2_000_000_001


class TokenFactory:
    """Mints JWTs the way the app expects them (key, claim and algorithm from the ini options)."""

    def __init__(self, config: PluginConfig) -> None:
        self.user_claim = config.jwt_user_claim
        self.algorithm = config.jwt_algorithm
        self._key_setting = config.jwt_key_setting

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
        return self._encode(self.claims(user), self.key + "-but-not-the-right-one")

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

        return jwt.decode(token, self.key, algorithms=[self.algorithm])

    def _encode(self, claims: dict[str, Any], key: str) -> str:
        import jwt

        return jwt.encode(claims, key, algorithm=self.algorithm)


def _user_id(user: Any) -> Any:
    return getattr(user, "pk", user)
