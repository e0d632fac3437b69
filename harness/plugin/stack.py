"""The ASGI stacks the fixtures run: the project's production application, and it minus origin validation."""

from __future__ import annotations

import copy
import importlib
import inspect
import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .errors import PluginConfigError

# Attributes through which ASGI wrappers commonly hold the app they wrap: Channels'
# BaseMiddleware uses `inner`, OriginValidator and Starlette-style wrappers `application`/`app`.
_CHILD_ATTRS = ("inner", "application", "app")
# What channels.security.websocket.AllowedHostsOriginValidator allows when DEBUG is on and
# ALLOWED_HOSTS is empty; a fresh list each time, so it is recognised by value.
_CHANNELS_DEBUG_HOSTS = ["localhost", "127.0.0.1", "[::1]"]


@dataclass(frozen=True)
class ProjectHosts:
    """The ALLOWED_HOSTS lists an `AllowedHostsOriginValidator` built outside a test can hold."""

    lists: tuple[Any, ...] = ()  # compared by identity: AllowedHostsOriginValidator keeps the object
    debug_default: bool = False  # the settings module has DEBUG on and no ALLOWED_HOSTS

    def made(self, validator: Any) -> bool:
        """True if `validator`'s origins came from ALLOWED_HOSTS (not from a list of the project's own)."""
        origins = validator.allowed_origins
        if any(origins is hosts for hosts in self.lists):
            return True
        return self.debug_default and list(origins) == _CHANNELS_DEBUG_HOSTS


@dataclass(frozen=True)
class AsgiTarget:
    """What `harness_asgi_factory` names: a zero-argument factory, or a module-level application."""

    spec: str
    factory: Callable[[], Any] | None
    application: Any
    hosts: ProjectHosts

    def production(self) -> Any:
        """The production application as it would be built now, under the settings now in force."""
        return with_current_hosts(self._built(), self.hosts)

    def test_stack(self) -> Any:
        """The production application minus every origin validator."""
        return strip_origin_validators(self._built())

    def _built(self) -> Any:
        if self.factory is None:
            return self.application
        application = self.factory()
        if not callable(application):
            raise PluginConfigError(
                f"harness_asgi_factory = {self.spec!r}: returned {type(application).__name__}, "
                "not an ASGI application"
            )
        return application


def load_target(spec: str) -> AsgiTarget:
    """Import what `module:attribute` names and tell a factory from an application."""
    target = _import(spec)
    if not callable(target):
        raise PluginConfigError(f"harness_asgi_factory = {spec!r}: {_NEITHER}")
    hosts = current_project_hosts()
    if _is_application(target):
        return AsgiTarget(spec, None, target, hosts)
    if _binds(target, 0) is not False:
        return AsgiTarget(spec, target, None, hosts)
    raise PluginConfigError(f"harness_asgi_factory = {spec!r}: {_NEITHER}")


_NEITHER = "must name a zero-argument factory or an ASGI application (scope, receive, send)"


def _import(spec: str) -> Any:
    if not spec:
        raise PluginConfigError(
            "harness_asgi_factory is not set: add "
            'harness_asgi_factory = "yourproject.asgi:application" '
            "to [tool.pytest.ini_options] (or [pytest] in pytest.ini)"
        )
    module_name, _, attr = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise PluginConfigError(
            f"harness_asgi_factory = {spec!r}: cannot import {module_name!r}: {err}"
        ) from err
    try:
        return operator.attrgetter(attr)(module)
    except AttributeError:
        raise PluginConfigError(
            f"harness_asgi_factory = {spec!r}: {module_name!r} has no attribute {attr!r}"
        ) from None


def _is_application(target: Any) -> bool:
    """An ASGI 3 application: a coroutine function or async `__call__` of (scope, receive, send)."""
    if inspect.isclass(target):
        return False  # calling a class makes an instance: a factory, if anything
    call = target if inspect.isroutine(target) else type(target).__call__
    if inspect.iscoroutinefunction(target) or inspect.iscoroutinefunction(call):
        return _binds(target, 3) is not False
    return _binds(target, 3) is True and _binds(target, 0) is False


def _binds(target: Any, count: int) -> bool | None:
    """Whether `target` accepts `count` positional arguments; None when Python cannot tell."""
    try:
        inspect.signature(target).bind(*range(count))
    except TypeError:
        return False
    except ValueError:  # no signature available (some builtins)
        return None
    return True


def current_project_hosts() -> ProjectHosts:
    """ALLOWED_HOSTS as the settings module defines it and as it is now (call this outside overrides)."""
    try:
        from django.conf import settings
        from django.core.exceptions import ImproperlyConfigured
    except ImportError:
        return ProjectHosts()
    try:
        now = settings.ALLOWED_HOSTS
    except ImproperlyConfigured:  # not a Django project: there are no hosts to follow
        return ProjectHosts()
    module_name = getattr(settings, "SETTINGS_MODULE", None)
    module = importlib.import_module(module_name) if module_name else None
    defined = getattr(module, "ALLOWED_HOSTS", None)
    debug_default = bool(getattr(module, "DEBUG", False)) and not defined
    return ProjectHosts(tuple(hosts for hosts in (now, defined) if hosts is not None), debug_default)


def strip_origin_validators(application: Any) -> Any:
    """Return `application` with every Channels OriginValidator layer removed.

    Wrappers on the way down are shallow-copied, never mutated, so the production
    application itself (a module-level one, say) keeps its validators.
    """
    return _rewrite_validators(application, lambda validator, inner: inner)


def with_current_hosts(application: Any, hosts: ProjectHosts) -> Any:
    """Return `application` whose ALLOWED_HOSTS validators allow the hosts in settings now.

    A validator built by `AllowedHostsOriginValidator` froze ALLOWED_HOSTS when it was
    built; it is replaced by a copy that allows what the same call would allow now.
    Validators with origin lists of the project's own keep them.
    """
    from channels.security.websocket import AllowedHostsOriginValidator

    def refresh(validator: Any, inner: Any) -> Any:
        if not hosts.made(validator):
            return _replaced(validator, "application", validator.application, inner)
        clone = copy.copy(validator)
        clone.application = inner
        clone.allowed_origins = AllowedHostsOriginValidator(inner).allowed_origins
        return clone

    return _rewrite_validators(application, refresh)


def _rewrite_validators(application: Any, rewrite: Callable[[Any, Any], Any]) -> Any:
    """Copy-on-write walk: `rewrite(validator, its rewritten inner app)` for every OriginValidator."""
    from channels.routing import ProtocolTypeRouter
    from channels.security.websocket import OriginValidator

    def walk(app: Any, seen: frozenset[int]) -> Any:
        if id(app) in seen:
            return app
        seen = seen | {id(app)}
        if isinstance(app, OriginValidator):
            return rewrite(app, walk(app.application, seen))
        if isinstance(app, ProtocolTypeRouter):
            mapping = {key: walk(value, seen) for key, value in app.application_mapping.items()}
            return _replaced(app, "application_mapping", app.application_mapping, mapping)
        for attr in _CHILD_ATTRS:
            child = vars(app).get(attr) if hasattr(app, "__dict__") else None
            if child is not None and callable(child):
                return _replaced(app, attr, child, walk(child, seen))
        return app

    return walk(application, frozenset())


def _replaced(wrapper: Any, attr: str, old: Any, new: Any) -> Any:
    if new is old or new == old:
        return wrapper
    clone = copy.copy(wrapper)
    setattr(clone, attr, new)
    return clone
