"""The plugin's ini options, parsed once per session into a frozen `PluginConfig`."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources

import pytest

from .errors import PluginConfigError

SUPPORTED_JWT_ALGORITHMS = ("HS256", "HS384", "HS512")
WS_AUTH_MODES = ("jwt", "session")


@dataclass(frozen=True)
class IniOption:
    name: str
    help: str
    default: str


def _ini_options() -> tuple[IniOption, ...]:
    """The options as options.toml lists them (a table of data, kept beside this module)."""
    table = tomllib.loads(resources.files(__package__).joinpath("options.toml").read_text(encoding="utf-8"))
    return tuple(IniOption(name, entry["help"], entry["default"]) for name, entry in table.items())


INI_OPTIONS = _ini_options()


@dataclass(frozen=True)
class PluginConfig:
    asgi_factory: str
    jwt_key_setting: str
    jwt_user_claim: str
    jwt_algorithm: str
    ws_auth: str
    token_query_param: str
    rate_limit_prefix: str
    redis_url_setting: str
    looptime: bool


CONFIG_KEY = pytest.StashKey[PluginConfig]()


def add_ini_options(parser: pytest.Parser) -> None:
    for option in INI_OPTIONS:
        parser.addini(option.name, option.help, default=option.default)


def parse_config(config: pytest.Config) -> PluginConfig:
    """Read and validate every harness ini option; raise PluginConfigError naming the bad one."""
    values = {option.name: config.getini(option.name) for option in INI_OPTIONS}
    for name, value in values.items():
        if isinstance(value, str):
            values[name] = value.strip()
    _check_factory(values["harness_asgi_factory"])
    for name in (
        "harness_jwt_key_setting",
        "harness_jwt_user_claim",
        "harness_token_query_param",
        "harness_redis_url_setting",
    ):
        if not values[name]:
            raise PluginConfigError(f"{name}: must not be empty")
    values["harness_looptime"] = _parse_bool("harness_looptime", values["harness_looptime"])
    if values["harness_jwt_algorithm"] not in SUPPORTED_JWT_ALGORITHMS:
        raise PluginConfigError(
            f"harness_jwt_algorithm: {values['harness_jwt_algorithm']!r} is not one of "
            f"{', '.join(SUPPORTED_JWT_ALGORITHMS)}"
        )
    if values["harness_ws_auth"] not in WS_AUTH_MODES:
        raise PluginConfigError(
            f"harness_ws_auth: {values['harness_ws_auth']!r} is not one of {', '.join(WS_AUTH_MODES)}"
        )
    return PluginConfig(**{name.removeprefix("harness_"): value for name, value in values.items()})


_TRUTH = {
    "true": True,
    "yes": True,
    "on": True,
    "1": True,
    "false": False,
    "no": False,
    "off": False,
    "0": False,
}


def _parse_bool(name: str, value: str) -> bool:
    # Parsed here rather than with addini(type="bool") so the error names the option.
    try:
        return _TRUTH[value.lower()]
    except KeyError:
        raise PluginConfigError(f"{name}: expected true or false, got {value!r}") from None


def _check_factory(spec: str) -> None:
    if not spec:
        return  # only harness_asgi_app needs it; it says so when used
    module, sep, attr = spec.partition(":")
    if not (sep and module and attr):
        raise PluginConfigError(f"harness_asgi_factory: expected 'module:attribute', got {spec!r}")


def get_config(config: pytest.Config) -> PluginConfig:
    return config.stash[CONFIG_KEY]
