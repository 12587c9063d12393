"""The web layer's shared pieces: the JSON error helper and the error handlers."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify, render_template, request
from flask_babel import gettext
from markupsafe import escape
from werkzeug.exceptions import HTTPException

from .embeds import FRAME_SOURCES
from .errors import LiveblogError
from .outage import RETRY_AFTER, outage_of
from .validation import MAX_INT, whole_number

log = logging.getLogger(__name__)

HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid_field",
    429: "too_many_requests",
    503: "unavailable",
}


def json_error(status: int, code: str, message: str, **details: Any) -> Response:
    """Return the contract's JSON error: {"error": {"code", "message", ...details}}."""
    response = jsonify({"error": {"code": code, "message": message, **details}})
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="liveblog"'
    return response


def unavailable(service: str) -> Response:
    """Return the JSON 503 for a request that needs a service that is away right now."""
    response = json_error(
        503,
        "unavailable",
        gettext("The service is briefly unavailable. Please try again in a moment."),
        service=service,
    )
    response.headers["Retry-After"] = str(RETRY_AFTER)
    response.headers["Cache-Control"] = "no-store"
    return response


def outage_response(error: BaseException) -> Response | None:
    """Answer an unreachable database or broker with 503 (JSON or page); None for other errors."""
    service = outage_of(error)
    if service is None:
        return None
    log.warning("%s unavailable on %s %s: %s", service, request.method, request.path, error)
    if _wants_json():
        return unavailable(service)
    message = gettext("The service is briefly unavailable. Please try again in a moment.")
    # No template: its context processors may need the very service that is away.
    page = f"<!doctype html><title>503</title><p>{escape(message)}</p>\n"
    response = Response(page, 503, mimetype="text/html")
    response.headers["Retry-After"] = str(RETRY_AFTER)
    response.headers["Cache-Control"] = "no-store"
    return response


def content_security_policy(frame_ancestors: str = "'none'") -> str:
    """Return the site's strict CSP; only the embed lets other sites frame it."""
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' https:;"
        " connect-src 'self'; object-src 'none'; base-uri 'none';"
        f" frame-ancestors {frame_ancestors};"
        f" form-action 'self'; frame-src {' '.join(FRAME_SOURCES)}"
    )


def int_arg(name: str, default: int, low: int, high: int = MAX_INT) -> int:
    """Return a whole-number query parameter (ASCII digits) within bounds, or refuse with 422."""
    raw = request.args.get(name)
    if raw is None:
        return default
    return whole_number(raw, name, low, high)


def _wants_json() -> bool:
    path = request.path
    return (
        path.startswith(("/api/", "/editor/api/"))
        or path in ("/healthz", "/editor/preview", "/oembed")
        or path.endswith(".json")
    )


def describe(error: LiveblogError) -> str:
    """Return a domain error's message in the request's language."""
    message: str = gettext(error.message)
    return message % error.params if error.params else message


def register_error_handlers(app: Flask) -> None:
    """Answer errors as JSON under /api/ and as a small page elsewhere."""

    @app.errorhandler(LiveblogError)
    def _domain(error: LiveblogError) -> Response | tuple[str, int]:
        if _wants_json():
            return json_error(error.status, error.code, describe(error), **error.details)
        return render_template("error.html", message=describe(error)), error.status

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException) -> Response:
        status = error.code or 500
        if _wants_json():
            response = json_error(status, HTTP_CODES.get(status, "error"), _http_message(status))
        else:
            response = Response(
                render_template("error.html", message=_http_message(status)), status
            )
        kept = dict(error.get_headers())
        for name in ("Allow", "Retry-After"):
            if name in kept:
                response.headers[name] = kept[name]
        return response

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Response | tuple[str, int]:
        outage = outage_response(error)
        if outage is not None:
            return outage
        log.exception("unhandled error on %s %s", request.method, request.path)
        message = gettext("Something went wrong on our side. Please try again.")
        if _wants_json():
            return json_error(500, "internal", message)
        return render_template("error.html", message=message), 500


def _http_message(status: int) -> str:
    messages: dict[int, str] = {
        400: gettext("The request could not be read."),
        401: gettext("Sign in or give a valid API token."),
        403: gettext("You are not allowed to do this."),
        404: gettext("There is nothing here."),
        405: gettext("This method is not allowed here."),
        413: gettext("The request is too large."),
        429: gettext("Too many requests. Please wait a moment."),
        503: gettext("The service is briefly unavailable. Please try again in a moment."),
    }
    fallback: str = gettext("The request could not be handled.")
    return messages.get(status, fallback)
