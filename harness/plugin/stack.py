"""The test ASGI stack: the project's production application with origin validation taken out."""

from __future__ import annotations

import copy
import importlib
import inspect
import operator
from collections.abc import Callable
from typing import Any

from .errors import PluginConfigError

# Attributes through which ASGI wrappers commonly hold the app they wrap: Channels'
# BaseMiddleware uses `inner`, OriginValidator and Starlette-style wrappers `application`/`app`.
_CHILD_ATTRS = ("inner", "application", "app")


def load_factory(spec: str) -> Callable[[], Any]:
    """Import the zero-argument callable named by `module:callable`."""
    if not spec:
        raise PluginConfigError(
            "harness_asgi_factory is not set: add "
            'harness_asgi_factory = "yourproject.asgi:build_application" '
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
        factory = operator.attrgetter(attr)(module)
    except AttributeError:
        raise PluginConfigError(
            f"harness_asgi_factory = {spec!r}: {module_name!r} has no attribute {attr!r}"
        ) from None
    if not callable(factory) or not _takes_no_arguments(factory):
        raise PluginConfigError(f"harness_asgi_factory = {spec!r}: must be a callable taking no arguments")
    return factory


def _takes_no_arguments(factory: Callable[..., Any]) -> bool:
    try:
        inspect.signature(factory).bind()
    except TypeError:
        return False
    except ValueError:  # no signature available (some builtins): let the call decide
        return True
    return True


def build_test_application(spec: str) -> Any:
    """Call the factory named by `spec` and return its application minus origin validators."""
    application = load_factory(spec)()
    if not callable(application):
        raise PluginConfigError(
            f"harness_asgi_factory = {spec!r}: returned {type(application).__name__}, not an ASGI application"
        )
    return strip_origin_validators(application)


def strip_origin_validators(application: Any) -> Any:
    """Return `application` with every Channels OriginValidator layer removed.

    Wrappers on the way down are shallow-copied, never mutated, so a factory that
    returns a module-level production application leaves it intact.
    """
    from channels.routing import ProtocolTypeRouter
    from channels.security.websocket import OriginValidator

    def strip(app: Any, seen: frozenset[int]) -> Any:
        if id(app) in seen:
            return app
        seen = seen | {id(app)}
        while isinstance(app, OriginValidator):
            app = app.application
        if isinstance(app, ProtocolTypeRouter):
            mapping = {key: strip(value, seen) for key, value in app.application_mapping.items()}
            return _replaced(app, "application_mapping", app.application_mapping, mapping)
        for attr in _CHILD_ATTRS:
            child = vars(app).get(attr) if hasattr(app, "__dict__") else None
            if child is not None and callable(child):
                return _replaced(app, attr, child, strip(child, seen))
        return app

    return strip(application, frozenset())


def _replaced(wrapper: Any, attr: str, old: Any, new: Any) -> Any:
    if new is old or new == old:
        return wrapper
    clone = copy.copy(wrapper)
    setattr(clone, attr, new)
    return clone
