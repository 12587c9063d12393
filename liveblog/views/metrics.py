"""The operators' Prometheus endpoint, and the counts the web layer and sign-in report.

`GET /metrics` answers with a bearer token equal to LIVEBLOG_METRICS_TOKEN, or, when no
token is set, only to a client on this host that did not come through a proxy.
"""

from __future__ import annotations

import hmac
import ipaddress

from flask import Blueprint, Response, current_app, request
from flask_babel import gettext

from .. import logins, metrics
from ..web import json_error

bp = Blueprint("metrics", __name__)

_PROXY_HEADERS = ("X-Forwarded-For", "X-Real-Ip", "Forwarded")


def _allowed() -> int | None:
    """Return None when the caller may read the metrics, else the status to refuse with."""
    token = str(current_app.config.get("LIVEBLOG_METRICS_TOKEN") or "")
    if token:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        ok = scheme.lower() == "bearer" and hmac.compare_digest(
            given.strip().encode(), token.encode()
        )
        return None if ok else 401
    try:
        local = ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        local = False
    # Behind the live front, it says whether the client named a proxy hop (the front
    # replaces those headers with its own); on its own, the headers tell.
    proxied = request.environ.get("liveblog.proxied")
    if proxied is None:
        proxied = any(h in request.headers for h in _PROXY_HEADERS)
    if local and not proxied:
        return None
    return 403


@bp.get("/metrics")
def show() -> Response:
    """Return every metric in Prometheus' text format."""
    refused = _allowed()
    if refused == 401:
        return json_error(401, "unauthorized", gettext("Sign in or give a valid API token."))
    if refused is not None:
        return json_error(403, "forbidden", gettext("You are not allowed to do this."))
    response = Response(metrics.exposition(), content_type=metrics.CONTENT_TYPE)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.after_app_request
def _count(response: Response) -> Response:
    """Count rate-limit refusals (any 429, the sign-in limit's too) by endpoint."""
    if response.status_code == 429:
        metrics.rate_limited(request.endpoint or "unknown")
    return response


def _login_refused(reason: str) -> None:
    if reason == "password":  # "rate_limited" is a 429, counted above
        metrics.login_failed()


logins.on_failure(_login_refused)  # once per process: this module is imported once
