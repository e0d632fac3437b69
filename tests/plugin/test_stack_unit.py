"""stack.py on plain data: which layers are stripped, what is left alone, what the errors say."""

from __future__ import annotations

import sys
import types
from fnmatch import fnmatch

import pytest
from channels.auth import AuthMiddlewareStack
from channels.routing import ProtocolTypeRouter, URLRouter
from channels.security.websocket import AllowedHostsOriginValidator, OriginValidator

from harness.plugin.errors import PluginConfigError
from harness.plugin.stack import build_test_application, load_factory, strip_origin_validators


async def app(scope, receive, send):
    raise NotImplementedError


def production():
    return ProtocolTypeRouter(
        {"http": app, "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter([])))}
    )


def layers(application):
    """Types on the way down through inner/application attributes."""
    found = []
    while application is not None:
        found.append(type(application).__name__)
        application = vars(application).get("inner") or vars(application).get("application")
    return found


def test_strips_the_validator_in_the_websocket_branch_without_touching_production():
    original = production()
    stripped = strip_origin_validators(original)
    assert layers(stripped.application_mapping["websocket"]) == [
        "CookieMiddleware",
        "SessionMiddleware",
        "AuthMiddleware",
        "URLRouter",
    ]
    assert stripped.application_mapping["http"] is app
    assert isinstance(original.application_mapping["websocket"], OriginValidator)


def test_strips_validators_at_the_top_nested_and_deep_in_middleware():
    deep = AuthMiddlewareStack(OriginValidator(OriginValidator(app, ["*"]), ["x"]))
    stripped = strip_origin_validators(AllowedHostsOriginValidator(deep))
    assert layers(stripped) == ["CookieMiddleware", "SessionMiddleware", "AuthMiddleware", "function"]
    assert stripped.inner.inner.inner is app
    assert isinstance(deep.inner.inner.inner, OriginValidator)


def test_an_app_without_validator_is_returned_as_is():
    stack = AuthMiddlewareStack(URLRouter([]))
    assert strip_origin_validators(stack) is stack
    assert strip_origin_validators(app) is app


def test_build_test_application_calls_the_factory_each_time(monkeypatch):
    module = types.ModuleType("fake_asgi")
    module.calls = 0

    def build():
        module.calls += 1
        return production()

    module.build = build
    monkeypatch.setitem(sys.modules, "fake_asgi", module)
    first, second = build_test_application("fake_asgi:build"), build_test_application("fake_asgi:build")
    assert first is not second and module.calls == 2
    assert not isinstance(first.application_mapping["websocket"], OriginValidator)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "harness_asgi_factory is not set: add harness_asgi_factory = *"),
        (
            "no_such_module_xyz:build",
            "harness_asgi_factory = 'no_such_module_xyz:build': cannot import 'no_such_module_xyz': *",
        ),
        (
            "harness.plugin.stack:nothing",
            "harness_asgi_factory = 'harness.plugin.stack:nothing': "
            "'harness.plugin.stack' has no attribute 'nothing'",
        ),
        ("harness.plugin.stack:strip_origin_validators", "* must be a callable taking no arguments"),
        ("harness.plugin.stack:_CHILD_ATTRS", "* must be a callable taking no arguments"),
    ],
)
def test_factory_errors_name_the_option(spec, message):
    with pytest.raises(PluginConfigError) as error:
        load_factory(spec)
    assert fnmatch(str(error.value), message), str(error.value)


def test_factory_returning_a_non_application_is_refused(monkeypatch):
    module = types.ModuleType("fake_asgi_none")
    module.build = lambda: None
    monkeypatch.setitem(sys.modules, "fake_asgi_none", module)
    with pytest.raises(PluginConfigError, match="returned NoneType, not an ASGI application"):
        build_test_application("fake_asgi_none:build")
