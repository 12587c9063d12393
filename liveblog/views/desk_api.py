"""The desk's own JSON endpoints (session + CSRF token), used by `static/desk.js`.

They call the same write path as the API, so the roles hold here as there. Every answer
is JSON, errors included: `{"error": {"code", "message", ...}}`.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, jsonify, request, url_for
from flask_babel import gettext
from flask_wtf.csrf import CSRFError
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from werkzeug.exceptions import HTTPException

from ..errors import N_, BadRequest, Invalid, LiveblogError, NotFound
from ..formats import body_html, parse_format
from ..models import Post, PostRevision, Role
from ..payloads import rfc3339, writer_payload
from ..queries import posts_page, require_story, story_post
from ..runtime import runtime
from ..uploads import MAX_UPLOAD_BYTES, store, upload_dir
from ..web import HTTP_CODES, describe, json_error, outage_response
from .api import json_body, optional_json_body, story_json
from .editor import user
from .editor_auth import current_user, refuse_foreign_origin

log = logging.getLogger(__name__)
bp = Blueprint("desk_api", __name__, url_prefix="/editor")


@bp.before_request
def _guard() -> Response | None:
    refuse_foreign_origin()
    if current_user() is None:
        return json_error(401, "unauthorized", gettext("Sign in to the desk first."))
    return None


@bp.after_request
def _private(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.errorhandler(LiveblogError)
def _domain_error(error: LiveblogError) -> Response:
    return json_error(error.status, error.code, describe(error), **error.details)


@bp.errorhandler(HTTPException)
def _http_error(error: HTTPException) -> Response:
    status = error.code or 500
    code = HTTP_CODES.get(status, "error")
    if isinstance(error, CSRFError):
        code = "csrf_failed"
        message = gettext(
            "The page is out of date or did not come from this site. Reload it and try again."
        )
    elif status == 403:
        message = gettext("You are not allowed to do this.")
    elif status == 413:
        message = gettext("The request is too large.")
    else:
        message = gettext("The request could not be handled.")
    return json_error(status, code, message)


@bp.errorhandler(Exception)
def _unexpected(error: Exception) -> Response:
    outage = outage_response(error)
    if outage is not None:
        return outage
    log.exception("unhandled error on %s %s", request.method, request.path)
    return json_error(500, "internal", gettext("Something went wrong on our side."))


def _desk_post(post: Post, slug: str, user_id: int, role: Role) -> dict[str, Any]:
    """Return the writer's post object plus whether this user may edit it."""
    mine = post.author_id == user_id and role is not Role.CONTRIBUTOR
    return {**writer_payload(post, slug), "editable": role.is_editor or mine}


@bp.post("/preview")
def preview() -> Response:
    """Return exactly the HTML a draft body would be stored as (`{body, format?}`)."""
    data = json_body()
    body = data.get("body") if isinstance(data, dict) else None
    if not isinstance(body, str):
        raise Invalid("body", N_("The field '%(field)s' must be a string."))
    return jsonify({"html": body_html(body, parse_format(data.get("format")))})


@bp.get("/api/stories/<slug>/state")
def state(slug: str) -> Response:
    """Return the story and its posts as of `last_seq`, to start the live list from."""
    desk_user = user()
    with runtime().db.read() as session:
        story = require_story(session, slug)
        # last_seq is read first: events after it are replayed by the stream, and replaying
        # one the post list already reflects is harmless (the desk keeps the newest version).
        last_seq = story.last_seq
        posts = posts_page(session, story)
        return jsonify(
            {
                "story": story_json(story),
                "last_seq": last_seq,
                "posts": [_desk_post(p, slug, desk_user.id, desk_user.role) for p in posts],
            }
        )


@bp.post("/api/stories/<slug>/posts")
def create_post(slug: str) -> tuple[Response, int] | tuple[Response, int, dict[str, str]]:
    """Publish a post as the signed-in user (a contributor's becomes a submission: 202)."""
    if user().role is Role.CONTRIBUTOR:
        from .drafts import submit_post

        return submit_post(user().actor, slug, json_body())
    post = runtime().service.create_post(user().actor, slug, json_body())
    return jsonify({**post, "editable": True}), 201


@bp.get("/api/stories/<slug>/posts/<post_id>")
def get_post(slug: str, post_id: str) -> Response:
    """Return one live post as its writer sees it: with its source, format and co-authors."""
    desk_user = user()
    with runtime().db.read() as session:
        post = story_post(session, require_story(session, slug), post_id)
        if post is None or post.deleted_at is not None:
            raise NotFound(N_("No post with the id '%(id)s' in this story."), id=post_id)
        return jsonify(_desk_post(post, slug, desk_user.id, desk_user.role))


@bp.patch("/api/stories/<slug>/posts/<post_id>")
def update_post(slug: str, post_id: str) -> Response:
    """Change a post at the version the user started from; 409 with both sides if stale."""
    post = runtime().service.update_post(user().actor, slug, post_id, json_body())
    return jsonify({**post, "editable": True})


@bp.delete("/api/stories/<slug>/posts/<post_id>")
def delete_post(slug: str, post_id: str) -> tuple[str, int]:
    """Take a post down everywhere (editors); optional `{reason}` for the history."""
    runtime().service.delete_post(user().actor, slug, post_id, optional_json_body())
    return "", 204


@bp.post("/api/stories/<slug>/posts/<post_id>/purge")
def purge_post(slug: str, post_id: str) -> tuple[str, int]:
    """Take a post down and erase its text from the history too (admins): `{reason}`."""
    runtime().service.purge_post(user().actor, slug, post_id, json_body())
    return "", 204


@bp.get("/api/stories/<slug>/posts/<post_id>/revisions")
def revisions(slug: str, post_id: str) -> Response:
    """Return every version of a post: what changed, who changed it and when."""
    with runtime().db.read() as session:
        story = require_story(session, slug)
        post = session.get(Post, post_id)  # deleted posts too: the history keeps who and why
        hidden = post is not None and post.deleted_at is not None
        if hidden and user().role is Role.CONTRIBUTOR:  # taken-down text stays in the newsroom
            post = None
        if post is None or post.story_id != story.id:
            raise NotFound(N_("No post with the id '%(id)s' in this story."), id=post_id)
        rows = session.scalars(
            select(PostRevision)
            .where(PostRevision.post_id == post_id)
            .options(selectinload(PostRevision.editor))
            .order_by(PostRevision.version.desc())
        )
        return jsonify(
            {
                "revisions": [
                    {
                        "version": r.version,
                        "body": r.body,
                        "format": r.format,
                        "source": r.source,
                        "headline": r.headline or None,
                        "verification": {
                            "status": r.verification.value,
                            "note": r.verification_note,
                        },
                        "pinned": r.pinned,
                        "key_event": r.key_event,
                        "changes": [c for c in r.changes.split(",") if c],
                        "reason": r.reason,
                        "editor": {"name": r.editor.display_name},
                        "created_at": rfc3339(r.created_at),
                    }
                    for r in rows
                ]
            }
        )


@bp.get("/api/stories/<slug>/readers")
def readers(slug: str) -> Response:
    """Count the readers connected to the story now, across processes with a broker."""
    with runtime().db.read() as session:
        require_story(session, slug)
    return jsonify({"readers": runtime().broker.readers(slug)})


@bp.post("/api/uploads")
def upload() -> tuple[Response, int]:
    """Store an image for a figure and return its absolute URL."""
    file = request.files.get("file")
    if file is None:
        raise BadRequest(N_("Choose an image file to upload."), code="no_file")
    data = file.stream.read(MAX_UPLOAD_BYTES + 1)
    name = store(upload_dir(), data)
    url = url_for("media.media", name=name, _external=True)
    return jsonify({"name": name, "url": url}), 201
