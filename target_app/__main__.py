"""`python -m target_app init | token | serve`: set up, mint tokens for and serve the reference app."""

import json
import os
import sys

import click

DB_OPTION = click.option(
    "--db",
    "db_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="SQLite file (default: $TARGET_APP_DB, else ./target_app.sqlite3).",
)


def _setup(db_path: str | None) -> None:
    """Configure Django for the chosen database; must run before any model import."""
    if db_path:
        os.environ["TARGET_APP_DB"] = os.path.abspath(db_path)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "target_app.config.settings")
    import django

    django.setup()


def _migrate() -> None:
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


@click.group()
def main() -> None:
    """The reference realtime app: live tournament and match updates over WebSockets."""


@main.command()
@DB_OPTION
def init(db_path: str | None) -> None:
    """Create the database and the demo data; print the ids as JSON."""
    _setup(db_path)
    _migrate()
    from target_app.tournaments.demo import ensure_demo_data

    click.echo(json.dumps(ensure_demo_data()))


@main.command()
@click.argument("username")
@DB_OPTION
@click.option("--ttl", type=click.IntRange(min=1), default=None, help="Lifetime in seconds (default 3600).")
def token(username: str, db_path: str | None, ttl: int | None) -> None:
    """Print a JWT for USERNAME."""
    _setup(db_path)
    from django.contrib.auth import get_user_model
    from django.db import DatabaseError

    from target_app.realtime.tokens import create_token

    try:
        user = get_user_model().objects.filter(username=username).first()
    except DatabaseError as err:
        raise click.ClickException(
            f"cannot read the database ({err}); run `python -m target_app init` first"
        ) from None
    if user is None:
        raise click.ClickException(
            f"no user named {username!r} (run `python -m target_app init` for demo users)"
        )
    click.echo(create_token(user.pk, ttl))


def server_options(environ) -> dict:
    """uvicorn's options beyond host and port: the production stack, redacted logs, bounded frames, proxies.

    - Frames: uvicorn reads a WebSocket message whole before the app sees it, up to `ws_max_size`
      (16 MiB by default: a 15 MiB frame raised the server's peak memory by 47 MB). Up to
      `WS_MAX_FRAME_BYTES` the app still answers an over-cap frame with 4009; larger ones the transport
      refuses with 1009 without reading them.
    - Client addresses: uvicorn trusts `X-Forwarded-For` from 127.0.0.1 by default, so any local client
      could pick the address its anonymous connection limit counts against. Proxy headers are read only
      when `FORWARDED_ALLOW_IPS` names the proxies to trust (uvicorn's own variable).
    """
    from django.conf import settings
    from uvicorn.config import LOGGING_CONFIG

    from target_app.serverlog import uvicorn_log_config

    trusted_proxies = environ.get("FORWARDED_ALLOW_IPS", "").strip()
    return {
        "lifespan": "off",  # Django's ASGI handler has no lifespan support
        "ws": "websockets-sansio",
        "ws_max_size": settings.WS_MAX_FRAME_BYTES,
        "proxy_headers": bool(trusted_proxies),
        "forwarded_allow_ips": trusted_proxies or None,
        # Logged paths carry `?token=…`: redacted; a client's bad frame: one line, no traceback.
        "log_config": uvicorn_log_config(LOGGING_CONFIG),
        "log_level": environ.get("TARGET_APP_LOG_LEVEL", "info").lower(),
    }


@main.command()
@DB_OPTION
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
def serve(db_path: str | None, host: str, port: int) -> None:
    """Serve the production ASGI stack (WebSocket and HTTP) with uvicorn until stopped."""
    _setup(db_path)
    _migrate()
    import uvicorn
    from django.conf import settings

    click.echo(
        f"target_app serving on http://{host}:{port} (db {settings.DATABASES['default']['NAME']}, "
        f"redis {settings.REDIS_URL or 'off: in-process backends'})",
        err=True,
    )
    uvicorn.run("target_app.asgi:application", host=host, port=port, **server_options(os.environ))


if __name__ == "__main__":
    sys.exit(main())
