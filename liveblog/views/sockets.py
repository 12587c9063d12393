"""flask-sock's extension, with the answer that ends a WebSocket request built once.

flask-sock's route defines a `Response` subclass inside the request, at every connection,
only to end the request once the handler returns (under gunicorn by raising StopIteration,
under werkzeug with an empty answer). Making that class was about 5 % of a handshake's
CPU in the live process; here it is one class, made at import. Everything else is flask-sock's: the
`@sock.route` API, the `Server` it looks up (which `wsserver.install` may replace) and the
closing handshake after the handler. `App` is the Flask that knows that answer.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from functools import wraps
from typing import Any

import flask_sock
from flask import Flask, Response, current_app, request


class Finished(Response):
    """The answer to a WebSocket request whose connection has ended or been handed on."""

    def __init__(self, mode: str) -> None:
        super().__init__()
        self.mode = mode

    def __call__(self, environ: Any, start_response: Any) -> Any:
        """End the request the way the server that ran it expects."""
        if self.mode == "gunicorn":
            raise StopIteration()  # gunicorn: the connection is not an HTTP answer
        if self.mode == "werkzeug":
            return super().__call__(environ, start_response)
        return []


class Sock(flask_sock.Sock):  # type: ignore[misc]
    """flask-sock, with `Finished` instead of a class made per connection."""

    def route(self, path: str, bp: Any = None, **kwargs: Any) -> Callable[..., Any]:
        """Register `f(ws, **view_args)` as a WebSocket route, as flask-sock does."""

        def decorator(f: Callable[..., Any]) -> Callable[..., Any]:
            @wraps(f)
            def websocket_route(*args: Any, **kw: Any) -> Finished:
                options = current_app.config.get("SOCK_SERVER_OPTIONS", {})
                ws = flask_sock.Server(request.environ, **options)
                with contextlib.suppress(flask_sock.ConnectionClosed):
                    f(ws, *args, **kw)
                with contextlib.suppress(Exception):
                    ws.close()
                return Finished(ws.mode)

            kwargs["websocket"] = True
            target = bp or self.app
            if target is None:
                raise RuntimeError("give the route a blueprint, or call init_app first")
            target.route(path, **kwargs)(websocket_route)
            return f

        return decorator


class App(Flask):
    """Flask, doing no after-request work on a WebSocket's answer: it is never sent.

    The app-wide after-request hooks (security headers, compression, the access log, the
    session) would otherwise run for every reader's handshake, in the middle of a storm.
    """

    def process_response(self, response: Response) -> Response:
        """Return a WebSocket's answer as it is; process any other the usual way."""
        if isinstance(response, Finished):
            return response
        return super().process_response(response)
