"""Production ASGI stack: origin validator → JWT auth → rate limits → URL router; Django for HTTP."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "target_app.config.settings")

from django.core.asgi import get_asgi_application

django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from target_app.realtime.middleware import JWTAuthMiddleware  # noqa: E402
from target_app.realtime.middleware_ratelimit import RateLimitMiddleware  # noqa: E402
from target_app.realtime.routing import websocket_urlpatterns  # noqa: E402


def build_application(*, validate_origin: bool = True):
    """A fresh application. Tests build one per test; the harness plugin strips the origin validator."""
    websocket = JWTAuthMiddleware(RateLimitMiddleware(URLRouter(websocket_urlpatterns)))
    if validate_origin:
        websocket = AllowedHostsOriginValidator(websocket)
    return ProtocolTypeRouter({"http": django_asgi_app, "websocket": websocket})


application = build_application()
