"""liveblog: a newsroom live-blog engine for developing stories."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Config, Flask, request
from flask_babel import Babel
from flask_compress import Compress
from flask_wtf.csrf import CSRFProtect

from . import logs
from .config import load_config
from .i18n import select_locale
from .runtime import Runtime
from .views.sockets import App

ROOT = Path(__file__).resolve().parent.parent

babel = Babel()
csrf = CSRFProtect()
compress = Compress()

#: Flask-Compress settings: brotli or gzip for every text response (pages and feeds come
#: precompressed from the render cache and pass through untouched).
COMPRESSION = {
    "COMPRESS_ALGORITHM": ["br", "gzip"],
    "COMPRESS_ALGORITHM_STREAMING": ["br", "gzip"],
    "COMPRESS_MIMETYPES": [
        "text/html",
        "text/css",
        "text/plain",
        "text/javascript",
        "application/javascript",
        "application/json",
        "application/feed+json",
        "application/problem+json",
        "image/svg+xml",
    ],
    "COMPRESS_BR_LEVEL": 5,
}


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Create and wire the application; `config` overrides everything else (for tests)."""
    instance = (config or {}).get("INSTANCE_PATH") or os.environ.get("LIVEBLOG_INSTANCE_PATH")
    app = App(  # Flask, minus after-request work on WebSocket answers (views/sockets.py)
        __name__,
        static_folder=str(ROOT / "static"),
        instance_path=str(instance) if instance else None,
        instance_relative_config=True,
    )
    # Read the instance file on its own, so Flask's defaults don't pass for its values.
    file_values = Config(app.instance_path)
    file_values.from_pyfile("liveblog.cfg", silent=True)
    app.config.update(load_config(Path(app.instance_path), file_values, config))
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(ROOT / "translations"))
    app.config.setdefault("BABEL_DEFAULT_LOCALE", "en")
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        JSON_SORT_KEYS=False,
    )
    for key, value in COMPRESSION.items():
        app.config.setdefault(key, value)
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.json.sort_keys = False  # type: ignore[attr-defined]

    logs.init_app(app)  # first: every later hook's refusal is logged with its request id
    app.extensions["liveblog"] = Runtime.build(
        app.config["LIVEBLOG_DATABASE_URL"],
        app.config["LIVEBLOG_BROKER_URL"],
        app.config["LIVEBLOG_QUEUE_LIMIT"],
        events_socket=app.config["LIVEBLOG_EVENTS_SOCKET"],
    )
    babel.init_app(app, locale_selector=select_locale)
    from . import guard
    from .views import editor_auth

    editor_auth.init_app(app)  # sessions, login rate limit; before CSRFProtect's defaults
    guard.init_app(app)  # refuses impossible input before CSRF and the views
    csrf.init_app(app)

    from . import cli, hosts, uploads, web
    from .views import (
        admin,
        api,
        delivery,
        desk_api,
        editor,
        embed,
        health,
        live,
        metrics,
        partner_access,
        partner_admin,
        reader,
        trust,
    )
    from .views import webhooks as webhooks_admin
    from .web import content_security_policy

    live.init_app(app)
    from .views import drafts  # noqa: F401 - adds the drafts routes to api.bp and desk_api.bp

    csrf.exempt(api.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(reader.bp)
    app.register_blueprint(trust.bp)
    app.register_blueprint(live.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(metrics.bp)
    app.register_blueprint(editor_auth.bp)
    app.register_blueprint(editor.bp)
    app.register_blueprint(desk_api.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(webhooks_admin.bp)
    app.register_blueprint(uploads.bp)
    app.register_blueprint(embed.bp)
    app.register_blueprint(partner_admin.bp)
    partner_access.init_app(app)
    web.register_error_handlers(app)
    hosts.init_app(app)
    cli.register(app)
    delivery.init_app(app)
    compress.init_app(app)
    app.after_request(_buffer_static)  # runs before Flask-Compress (registered later, runs first)

    @app.after_request
    def _security_headers(response: Any) -> Any:
        response.headers.setdefault("Content-Security-Policy", content_security_policy())
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        if request.path.startswith("/api/"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    return app


def _buffer_static(response: Any) -> Any:
    """Read a static file into memory, so Flask-Compress gzips it as it does other answers."""
    if request.endpoint == "static" and response.status_code == 200 and response.is_streamed:
        response.direct_passthrough = False
        response.set_data(response.get_data())
    return response
