"""Who reads the feeds, the events and the live stream: partners by key, others by address.

A web-layer seam (Flask), run before the views of the four read endpoints (JSON Feed,
Atom, `/api/v1/stories/<slug>/events`, the WebSocket). A partner key comes as
`Authorization: Bearer lbk_…` or, for feed readers that cannot set headers and for
browsers' WebSockets, as `?key=lbk_…`. A known key gets its own per-minute limit and its
use counted; an unknown or revoked one is refused with a JSON 401, whatever the endpoint.
Without a key the per-address limit applies (a newsroom API token in the header is
accepted and read as no key). Over a limit: JSON 429 with `Retry-After`.

Answers to keyed requests are `Cache-Control: private, no-cache`: a shared cache never
keeps one under a URL that carries a key. These endpoints only read; the write API refuses
partner keys on its own (`views/api.py`).
"""

from __future__ import annotations

from flask import Flask, Response, current_app, g, request
from flask_babel import gettext

from ..accounts import token_owner
from ..partner_limits import RateGate, UsageTally, Verdict, make_windows
from ..partners import Grant, grant_for, is_partner_key
from ..runtime import runtime
from ..web import json_error

#: The endpoints partner keys open, and the kind their usage is counted under.
KINDS = {"reader.feed": "feed", "reader.atom": "atom", "api.events": "events", "live.live": "live"}
#: Kinds the keyless per-address limit covers (live connections have their own cap).
LIMITED_WITHOUT_KEY = {"feed", "atom", "events"}
KEY_PARAM = "key"


def init_app(app: Flask) -> None:
    """Build the rate gate and the usage tally, and check every request to the read endpoints."""
    app.extensions["liveblog.partners"] = (
        RateGate(make_windows(str(app.config["LIVEBLOG_BROKER_URL"] or ""))),
        UsageTally(
            app.extensions["liveblog"].db, float(app.config["LIVEBLOG_USAGE_FLUSH_SECONDS"])
        ),
    )
    app.before_request(admit)
    app.after_request(keep_private)


def _gate() -> tuple[RateGate, UsageTally]:
    parts: tuple[RateGate, UsageTally] = current_app.extensions["liveblog.partners"]
    return parts


def presented_key() -> str | None:
    """Return the partner key the request carries, None when it carries none.

    A bearer credential that is not shaped like a partner key is returned too unless it
    is a valid newsroom API token (those read as if no key were given).
    """
    scheme, _, credential = request.headers.get("Authorization", "").partition(" ")
    credential = credential.strip()
    if scheme.lower() == "bearer" and credential:
        if is_partner_key(credential):
            return credential
        with runtime().db.read() as session:
            if token_owner(session, credential) is None:
                return credential
    if KEY_PARAM in request.args:
        return request.args.get(KEY_PARAM, "")
    return None


def _refuse(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


def _too_many(verdict: Verdict) -> Response:
    response = json_error(
        429, "too_many_requests", gettext("Too many requests. Please wait a moment.")
    )
    response.headers["Retry-After"] = str(verdict.retry_after)
    return _refuse(response)


def admit() -> Response | None:
    """Let a read request through, or refuse it with 401 (bad key) or 429 (over its limit)."""
    kind = KINDS.get(request.endpoint or "")
    if kind is None:
        return None
    gate, tally = _gate()
    key = presented_key()
    if key is None:
        if kind not in LIMITED_WITHOUT_KEY:
            return None
        rate: int = current_app.config["LIVEBLOG_FEED_RATE_PER_IP"]
        verdict = gate.take("address", request.remote_addr or "", rate)
        return None if verdict.allowed else _too_many(verdict)
    grant: Grant | None = None
    if is_partner_key(key):
        with runtime().db.read() as session:
            grant = grant_for(session, key)
    if grant is None:
        message = gettext("The partner key is not valid (any more).")
        return _refuse(json_error(401, "invalid_key", message))
    g.partner = grant
    verdict = gate.take("key", grant.tag, grant.rate)
    if not verdict.allowed:
        return _too_many(verdict)
    tally.count(grant.id, kind)
    return None


def keep_private(response: Response) -> Response:
    """Keep answers to keyed requests out of shared caches."""
    if g.get("partner") is not None and response.status_code < 400:
        response.headers["Cache-Control"] = "private, no-cache"
    return response
