"""The drafts endpoints: `/api/v1/stories/<slug>/drafts...` (token) and the desk's twins.

The routes are added to the API's and the desk's blueprints (their auth, CSRF and error
handling apply); every change goes through `runtime().drafts`. The desk's list also
serves the editors' approval queue, which desk-drafts.js polls every few seconds: drafts
never go through the public event log.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Response, jsonify, request, url_for

from ..errors import N_, Invalid
from ..formats import body_html, parse_format
from ..models import Role
from ..queries import require_story
from ..runtime import runtime
from ..service import Actor
from .api import authenticate, json_body, optional_json_body
from .api import bp as api_bp
from .desk_api import bp as desk_bp
from .editor import local_time, user

API = "/stories/<slug>/drafts"
ONE = API + "/<draft_id>"
#: Drafts' bodies as readers would see them, by (id, version): a poll after one change
#: renders that one draft, not the whole queue (up to 200 bodies) again.
_RENDERED: dict[tuple[str, int], str] = {}
RENDERED_MAX = 400


def _draft_url(draft: dict[str, Any]) -> str:
    return url_for("api.get_draft", slug=draft["story"], draft_id=draft["id"], _external=True)


def submit_post(actor: Actor, slug: str, data: Any) -> tuple[Response, int, dict[str, str]]:
    """Answer a contributor's `POST .../posts`: 202 with the submission waiting for approval."""
    draft = runtime().drafts.submit(actor, slug, data)
    return jsonify(draft), 202, {"Location": _draft_url(draft)}


# -- the API (Bearer token) ------------------------------------------------------------------


@api_bp.get(API)
def list_drafts(slug: str) -> Response:
    """List the story's unpublished drafts: one's own, or all of them for editors."""
    return jsonify({"drafts": runtime().drafts.list(authenticate(), slug)})


@api_bp.post(API)
def create_draft(slug: str) -> tuple[Response, int, dict[str, str]]:
    """Save a draft; `publish_at` schedules it, `submit` sends it for approval."""
    draft = runtime().drafts.create(authenticate(), slug, json_body())
    return jsonify(draft), 201, {"Location": _draft_url(draft)}


@api_bp.get(ONE)
def get_draft(slug: str, draft_id: str) -> Response:
    """Return one draft (its author, editors)."""
    return jsonify(runtime().drafts.get(authenticate(), slug, draft_id))


@api_bp.patch(ONE)
def update_draft(slug: str, draft_id: str) -> Response:
    """Change a draft at the version the caller last saw."""
    actor = authenticate()
    return jsonify(runtime().drafts.update(actor, slug, draft_id, json_body()))


@api_bp.delete(ONE)
def delete_draft(slug: str, draft_id: str) -> tuple[str, int]:
    """Throw a draft away."""
    runtime().drafts.delete(authenticate(), slug, draft_id)
    return "", 204


@api_bp.post(ONE + "/publish")
def publish_draft(slug: str, draft_id: str) -> tuple[Response, int]:
    """Publish a draft now, or approve a submission (editors): 201 with the post."""
    actor = authenticate()
    return jsonify(runtime().drafts.publish(actor, slug, draft_id, optional_json_body())), 201


@api_bp.post(ONE + "/reject")
def reject_draft(slug: str, draft_id: str) -> Response:
    """Send a submission back with a reason (editors)."""
    actor = authenticate()
    return jsonify(runtime().drafts.reject(actor, slug, draft_id, json_body()))


# -- the desk (session + CSRF) ---------------------------------------------------------------

DESK = "/api" + API
DESK_ONE = "/api" + ONE


def _local(slug: str, data: Any) -> Any:
    """Turn the desk's `publish_at_local` (the story's wall clock) into `publish_at`."""
    if not isinstance(data, dict) or "publish_at_local" not in data:
        return data
    data = dict(data)
    raw = data.pop("publish_at_local")
    if raw is None:
        data["publish_at"] = None
        return data
    with runtime().db.read() as session:
        zone = ZoneInfo(require_story(session, slug).timezone)
    try:
        wall = datetime.fromisoformat(raw) if isinstance(raw, str) and len(raw) <= 19 else None
    except ValueError:
        wall = None
    if wall is None or wall.tzinfo is not None:
        raise Invalid("publish_at", N_("Choose a date and time to publish."))
    data["publish_at"] = wall.replace(tzinfo=zone).isoformat()
    return data


def _for_desk(slug: str, timezone: str, draft: dict[str, Any]) -> dict[str, Any]:
    """Add what the desk shows: the body as readers would see it, the time in story time."""
    payload = draft["payload"]
    seen = (draft["id"], draft["version"])
    html = _RENDERED.get(seen)
    if html is None:
        html = body_html(str(payload.get("body", "")), parse_format(payload.get("format")))
        if len(_RENDERED) >= RENDERED_MAX:
            _RENDERED.clear()
        _RENDERED[seen] = html
    at = draft["publish_at"]
    local = local_time(datetime.fromisoformat(at), timezone) if at else ""
    desk_user = user()
    mine = draft["author"]["name"] == desk_user.display_name
    return {
        **draft,
        "html": html,
        "publish_at_label": local,
        "publishable": desk_user.role is not Role.CONTRIBUTOR,
        "reviewable": desk_user.is_editor and draft["state"] == "pending",
        "mine": mine,
    }


def _timezone(slug: str) -> str:
    with runtime().db.read() as session:
        return require_story(session, slug).timezone


@desk_bp.get(DESK)
def desk_drafts(slug: str) -> Response | tuple[str, int]:
    """The desk's drafts and, for editors, the approval queue (polled; never public).

    `?seen=<key>` answers `204` when nothing changed since that answer's `key`, so a poll
    costs one indexed query and no rendering.
    """
    drafts = runtime().drafts.list(user().actor, slug)
    key = hashlib.sha256(repr([(d["id"], d["version"]) for d in drafts]).encode()).hexdigest()
    if request.args.get("seen") == key[:16]:
        return "", 204
    timezone = _timezone(slug)
    return jsonify({"key": key[:16], "drafts": [_for_desk(slug, timezone, d) for d in drafts]})


@desk_bp.post(DESK)
def desk_create_draft(slug: str) -> tuple[Response, int]:
    """Save a draft from the composer (or submit it, for contributors)."""
    draft = runtime().drafts.create(user().actor, slug, _local(slug, json_body()))
    return jsonify(_for_desk(slug, _timezone(slug), draft)), 201


@desk_bp.patch(DESK_ONE)
def desk_update_draft(slug: str, draft_id: str) -> Response:
    """Change, schedule, unschedule or submit a draft."""
    draft = runtime().drafts.update(user().actor, slug, draft_id, _local(slug, json_body()))
    return jsonify(_for_desk(slug, _timezone(slug), draft))


@desk_bp.delete(DESK_ONE)
def desk_delete_draft(slug: str, draft_id: str) -> tuple[str, int]:
    """Throw a draft away."""
    runtime().drafts.delete(user().actor, slug, draft_id)
    return "", 204


@desk_bp.post(DESK_ONE + "/publish")
def desk_publish_draft(slug: str, draft_id: str) -> tuple[Response, int]:
    """Publish a draft now, or approve a submission (editors)."""
    data = optional_json_body() if request.get_data().strip() else None
    post = runtime().drafts.publish(user().actor, slug, draft_id, data)
    return jsonify({**post, "editable": True}), 201


@desk_bp.post(DESK_ONE + "/reject")
def desk_reject_draft(slug: str, draft_id: str) -> Response:
    """Send a submission back to its contributor with a reason (editors)."""
    draft = runtime().drafts.reject(user().actor, slug, draft_id, json_body())
    return jsonify(_for_desk(slug, _timezone(slug), draft))
