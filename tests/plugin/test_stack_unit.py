"""stack.py on plain objects: factory or application, which layers are stripped or refreshed, the errors."""

from __future__ import annotations

import sys
import types
from fnmatch import fnmatch

import pytest
from channels.auth import AuthMiddlewareStack
from channels.routing import ProtocolTypeRouter, URLRouter
from channels.security.websocket import AllowedHostsOriginValidator, OriginValidator
from django.conf import settings as django_settings

from harness.plugin.errors import PluginConfigError
from harness.plugin.stack import (
    ProjectHosts,
    current_project_hosts,
    load_target,
    strip_origin_validators,
    with_current_hosts,
)


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


NEITHER = "must name a zero-argument factory or an ASGI application (scope, receive, send)"


def validator_of(application):
    return application.application_mapping["websocket"]


@pytest.fixture
def asgi_module(monkeypatch):
    """A fake `fake_asgi` module whose attributes the tests set."""
    module = types.ModuleType("fake_asgi")
    monkeypatch.setitem(sys.modules, "fake_asgi", module)
    return module


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
    assert isinstance(validator_of(original), OriginValidator)


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


def test_a_factory_is_called_for_every_stack(asgi_module):
    asgi_module.calls = 0

    def build():
        asgi_module.calls += 1
        return production()

    asgi_module.build = build
    target = load_target("fake_asgi:build")
    assert target.factory is build and target.application is None
    first, second = target.test_stack(), target.production()
    assert first is not second and asgi_module.calls == 2
    assert not isinstance(validator_of(first), OriginValidator)
    assert isinstance(validator_of(second), OriginValidator)


@pytest.mark.parametrize(
    "make",
    [
        production,  # a ProtocolTypeRouter instance: async __call__(scope, receive, send)
        lambda: app,  # an ASGI coroutine function
        lambda: AuthMiddlewareStack(URLRouter([])),
        lambda: lambda scope, receive, send: app(scope, receive, send),  # sync, returns an awaitable
    ],
    ids=["router", "coroutine-function", "middleware", "sync-callable"],
)
def test_a_module_level_application_is_used_as_it_is(asgi_module, make):
    asgi_module.application = make()
    target = load_target("fake_asgi:application")
    assert target.factory is None and target.application is asgi_module.application


def test_the_test_stack_of_a_module_level_application_leaves_it_intact(asgi_module):
    asgi_module.application = production()
    stripped = load_target("fake_asgi:application").test_stack()
    assert not isinstance(validator_of(stripped), OriginValidator)
    assert isinstance(validator_of(asgi_module.application), OriginValidator)


def test_production_of_a_module_level_application_follows_allowed_hosts_set_in_the_test(
    asgi_module, settings
):
    project_hosts = django_settings.ALLOWED_HOSTS
    asgi_module.application = production()  # built "at import", before the test's override
    target = load_target("fake_asgi:application")
    settings.ALLOWED_HOSTS = ["staging.example.com"]
    refreshed = validator_of(target.production())
    assert refreshed.allowed_origins == ["staging.example.com"]
    frozen = validator_of(asgi_module.application)
    assert refreshed.application is frozen.application
    assert frozen.allowed_origins is project_hosts  # the application itself is left as it was


def test_a_validator_with_origins_of_its_own_keeps_them(settings):
    own = OriginValidator(app, ["https://chat.example.com"])
    hosts = ProjectHosts((settings.ALLOWED_HOSTS,))
    settings.ALLOWED_HOSTS = ["staging.example.com"]
    assert with_current_hosts(own, hosts) is own


def test_allowed_hosts_lists_are_recognised_by_identity_not_value():
    hosts_list = ["chat.example.com"]
    hosts = ProjectHosts((hosts_list,))
    assert hosts.made(OriginValidator(app, hosts_list))
    assert not hosts.made(OriginValidator(app, ["chat.example.com"]))


def test_channels_debug_default_is_recognised_when_the_settings_give_no_hosts():
    debug_made = OriginValidator(app, ["localhost", "127.0.0.1", "[::1]"])
    assert ProjectHosts((), debug_default=True).made(debug_made)
    assert not ProjectHosts((), debug_default=False).made(debug_made)


def test_project_hosts_are_the_settings_modules_list_and_the_current_one():
    import target_app.config.settings as settings_module

    hosts = current_project_hosts()
    assert any(found is django_settings.ALLOWED_HOSTS for found in hosts.lists)
    assert any(found is settings_module.ALLOWED_HOSTS for found in hosts.lists)


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
        ("harness.plugin.stack:strip_origin_validators", f"* {NEITHER}"),
        ("harness.plugin.stack:_CHILD_ATTRS", f"* {NEITHER}"),
        ("channels.routing:ProtocolTypeRouter", f"* {NEITHER}"),
    ],
)
def test_target_errors_name_the_option(spec, message):
    with pytest.raises(PluginConfigError) as error:
        load_target(spec)
    assert fnmatch(str(error.value), message), str(error.value)


def test_factory_returning_a_non_application_is_refused(asgi_module):
    asgi_module.build = lambda: None
    with pytest.raises(PluginConfigError, match="returned NoneType, not an ASGI application"):
        load_target("fake_asgi:build").test_stack()
