"""target_app's rate limits and payload cap from the environment, checked at start-up."""

import importlib.util
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

import target_app.config.settings

SETTINGS_FILE = Path(target_app.config.settings.__file__)
KNOBS = (
    "WS_MAX_PAYLOAD_BYTES",
    "WS_RATE_ENABLED",
    "WS_CONN_PER_USER",
    "WS_CONN_PER_IP",
    "WS_MSG_RATE",
    "WS_MSG_BURST",
    "WS_RATE_CLOSE_AFTER",
    "WS_ROOM_MAX",
)


def _fresh_settings(monkeypatch, **env):
    """The settings module run anew under `env` (a private copy: Django's own settings stay as they are)."""
    for name in KNOBS:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    spec = importlib.util.spec_from_file_location("_settings_under_test", SETTINGS_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_without_the_environment_the_protocol_defaults_apply(monkeypatch):
    settings = _fresh_settings(monkeypatch)
    assert {name: getattr(settings, name) for name in KNOBS} == {
        "WS_MAX_PAYLOAD_BYTES": 16384,
        "WS_RATE_ENABLED": True,
        "WS_CONN_PER_USER": 3,
        "WS_CONN_PER_IP": 10,
        "WS_MSG_RATE": 10,
        "WS_MSG_BURST": 20,
        "WS_RATE_CLOSE_AFTER": 5,
        "WS_ROOM_MAX": 2000,
    }


def test_the_environment_sizes_the_limits(monkeypatch):
    settings = _fresh_settings(
        monkeypatch,
        WS_ROOM_MAX="500",
        WS_CONN_PER_USER=" 5 ",
        WS_MSG_RATE="2.5",
        WS_MSG_BURST="40",
        WS_RATE_ENABLED="false",
        WS_MAX_PAYLOAD_BYTES="",  # empty: the default
    )
    assert (settings.WS_ROOM_MAX, settings.WS_CONN_PER_USER, settings.WS_MSG_RATE) == (500, 5, 2.5)
    assert (settings.WS_MSG_BURST, settings.WS_RATE_ENABLED) == (40, False)
    assert settings.WS_MAX_PAYLOAD_BYTES == 16384


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("WS_ROOM_MAX", "many", "WS_ROOM_MAX='many': expected a positive int"),
        ("WS_ROOM_MAX", "0", "WS_ROOM_MAX='0': expected a positive int"),
        ("WS_CONN_PER_IP", "2.5", "WS_CONN_PER_IP='2.5': expected a positive int"),
        ("WS_MSG_RATE", "-1", "WS_MSG_RATE='-1': expected a positive float"),
        ("WS_MSG_RATE", "nan", "WS_MSG_RATE='nan': expected a positive float"),
        ("WS_MSG_RATE", "inf", "WS_MSG_RATE='inf': expected a positive float"),
        ("WS_RATE_ENABLED", "yes", "WS_RATE_ENABLED='yes': expected 1, 0, true or false"),
    ],
)
def test_a_bad_value_stops_start_up_naming_the_variable(monkeypatch, name, value, message):
    with pytest.raises(ImproperlyConfigured, match=f"^{message.replace('(', '[(]')}$"):
        _fresh_settings(monkeypatch, **{name: value})
