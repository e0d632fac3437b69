"""Django settings for target_app; deployment knobs come from the environment."""

import os
import tempfile
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured


def _env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def _env_number(name: str, default: int, kind: type = int) -> int | float:
    """A positive number from the environment (`kind` int or float), else `default`; junk stops start-up."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        value = None
    if value is None or not value > 0 or value == float("inf"):
        raise ImproperlyConfigured(f"{name}={raw!r}: expected a positive {kind.__name__}")
    return value


def _env_flag(name: str, default: bool) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw not in {"0", "1", "true", "false"}:
        raise ImproperlyConfigured(f"{name}={raw!r}: expected 1, 0, true or false")
    return raw in {"1", "true"}


BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = os.environ.get("TARGET_APP_SECRET_KEY", "target-app-demo-key-not-for-production-use-0123456789")
DEBUG = os.environ.get("TARGET_APP_DEBUG", "") == "1"
ALLOWED_HOSTS = _env_list("ALLOWED_HOSTS", "localhost,127.0.0.1")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "channels",
    "target_app.tournaments.apps.TournamentsConfig",
    "target_app.realtime",
]

MIDDLEWARE = [
    "django.middleware.common.CommonMiddleware",
]

ROOT_URLCONF = "target_app.config.urls"
ASGI_APPLICATION = "target_app.asgi.application"

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("TARGET_APP_DB", str(Path.cwd() / "target_app.sqlite3")),
        # A real file for tests too, private to this process so concurrent runs never share one.
        "TEST": {"NAME": str(Path(tempfile.gettempdir()) / f"target_app_test_{os.getpid()}.sqlite3")},
        "OPTIONS": {"timeout": 20},
    }
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "UTC"

# JWT auth (realtime/middleware.py). HS256 only.
JWT_SIGNING_KEY = os.environ.get("JWT_SIGNING_KEY", SECRET_KEY)
JWT_DEFAULT_TTL = 3600

# Redis: rate-limit buckets and the channel layer. Unset means in-process for both.
REDIS_URL = os.environ.get("REDIS_URL") or None

if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "target_app.realtime.layers.BoundedRedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL]},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# Consumers (realtime/consumers.py, realtime/match_consumer.py).
WS_ALLOWED_ORIGINS = _env_list("WS_ALLOWED_ORIGINS", "")
WS_MAX_PAYLOAD_BYTES = _env_number("WS_MAX_PAYLOAD_BYTES", 16384)
# The largest frame the server reads at all (`serve` gives it to uvicorn); larger ones close 1009.
WS_MAX_FRAME_BYTES = _env_number("WS_MAX_FRAME_BYTES", 1024 * 1024)
if WS_MAX_FRAME_BYTES <= WS_MAX_PAYLOAD_BYTES:
    raise ImproperlyConfigured(
        f"WS_MAX_FRAME_BYTES ({WS_MAX_FRAME_BYTES}) must exceed WS_MAX_PAYLOAD_BYTES "
        f"({WS_MAX_PAYLOAD_BYTES}): frames between them are the ones answered with 4009"
    )

# Rate limits (realtime/ratelimit.py, realtime/middleware_ratelimit.py). A deployment sizes them from
# the environment, like the hosts above (docs/protocol.md, "Running").
WS_RATE_ENABLED = _env_flag("WS_RATE_ENABLED", True)
WS_CONN_PER_USER = _env_number("WS_CONN_PER_USER", 3)
WS_CONN_PER_IP = _env_number("WS_CONN_PER_IP", 10)
WS_MSG_RATE = _env_number("WS_MSG_RATE", 10, float)
WS_MSG_BURST = _env_number("WS_MSG_BURST", 20)
WS_RATE_CLOSE_AFTER = _env_number("WS_RATE_CLOSE_AFTER", 5)
WS_ROOM_MAX = _env_number("WS_ROOM_MAX", 2000)

# Score batching (realtime/utils.py).
SCORE_BATCH_WINDOW_MS = 100

# `GET /api/debug/runtime` (target_app/introspection.py): counts of tasks and objects for load tests.
# Off unless TARGET_APP_INTROSPECTION=1; never in production.
RUNTIME_INTROSPECTION = _env_flag("TARGET_APP_INTROSPECTION", False)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "filters": {"redact_tokens": {"()": "target_app.logredact.RedactTokens"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["redact_tokens"]}
    },
    "loggers": {
        "target_app": {"handlers": ["console"], "level": os.environ.get("TARGET_APP_LOG_LEVEL", "INFO")}
    },
}
