"""harness_jwt's keys, in process under this repository's `filterwarnings = error`."""

from __future__ import annotations

import dataclasses

import jwt
import pytest

from harness.plugin.config import PluginConfig
from harness.plugin.tokens import TokenFactory

CONFIG = PluginConfig(
    asgi_factory="",
    jwt_key_setting="JWT_SIGNING_KEY",
    jwt_user_claim="user_id",
    jwt_algorithm="HS256",
    ws_auth="jwt",
    token_query_param="token",
    rate_limit_prefix="WS_",
    redis_url_setting="REDIS_URL",
    looptime=False,
)


def test_pyjwt_warns_about_a_short_key_so_the_fixture_must_not():
    with pytest.warns(jwt.InsecureKeyLengthWarning):
        jwt.encode({}, "short", algorithm="HS256")


@pytest.mark.parametrize("algorithm", ["HS256", "HS384", "HS512"])
def test_a_short_project_key_mints_and_decodes_without_a_warning(settings, algorithm):
    settings.JWT_SIGNING_KEY = "short"
    tokens = TokenFactory(dataclasses.replace(CONFIG, jwt_algorithm=algorithm))
    token = tokens.valid(7)  # a warning here would be an error under filterwarnings = error
    assert tokens.decode(token)["user_id"] == 7
    assert jwt.get_unverified_header(tokens.expired(7))["alg"] == algorithm
    with pytest.raises(jwt.InvalidSignatureError):
        tokens.decode(tokens.wrong_key(7))


def test_the_wrong_key_is_long_enough_for_any_algorithm(settings):
    settings.JWT_SIGNING_KEY = "short"
    tokens = TokenFactory(dataclasses.replace(CONFIG, jwt_algorithm="HS512"))
    # Verifying with the wrong key itself: PyJWT would warn (an error here) if it were under 64 bytes.
    assert jwt.decode(tokens.wrong_key(7), tokens._wrong_key, algorithms=["HS512"])["user_id"] == 7


def test_without_a_jwt_key_the_projects_secret_key_signs(settings):
    settings.JWT_SIGNING_KEY = ""
    assert TokenFactory(CONFIG).key == settings.SECRET_KEY
    del settings.JWT_SIGNING_KEY
    assert TokenFactory(CONFIG).key == settings.SECRET_KEY
