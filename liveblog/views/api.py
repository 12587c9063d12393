"""The write API for newsroom tools and the public event log (`/api/v1`)."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request, url_for

from ..accounts import actor_of, note_token_use, token_owner
from ..errors import N_, BadRequest, Forbidden, Unauthorized
from ..models import Role, Story
from ..openapi import MAX_EVENTS_PAGE, openapi_document
from ..partners import grant_for, is_partner_key
from ..payloads import story_payload
from ..polls import events_etag
from ..queries import event_frames, require_story
from ..renders import Rendered
from ..runtime import runtime
from ..service import Actor
from ..validation import holds_nul
from ..web import int_arg
from .delivery import send

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def authenticate() -> Actor:
    """Return the caller named by the Bearer token, or refuse with 401."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized(N_("Give an API token: Authorization: Bearer <token>."))
    if is_partner_key(token.strip()):
        raise Forbidden(N_("A partner key only reads; it cannot write."), code="read_only_key")
    with runtime().db.read() as session:
        found = token_owner(session, token.strip())
        if found is None:
            raise Unauthorized(N_("The API token is not valid."), code="invalid_token")
        actor, last_used_at = actor_of(found[0]), found[1].last_used_at
    note_token_use(runtime().db, token.strip(), last_used_at)
    return actor


def json_body() -> Any:
    """Parse the request body as JSON whatever its Content-Type, or refuse with 400."""
    raw = request.get_data(cache=False)
    try:
        data = json.loads(raw)
        # Lone surrogates (\ud800) are valid JSON escapes but not text a database stores.
        json.dumps(data, ensure_ascii=False).encode()
    except (ValueError, UnicodeError, RecursionError):
        raise BadRequest(
            N_("The request body is not valid JSON."), code="malformed_json"
        ) from None
    if holds_nul(data):  # PostgreSQL cannot store it, and no field has a use for it
        raise BadRequest(N_("The request holds control characters."), code="control_characters")
    return data


def story_json(story: Story) -> dict[str, Any]:
    """Return the story object with its absolute URLs."""
    return story_payload(
        story,
        url=url_for("reader.story", slug=story.slug, _external=True),
        feed_url=url_for("reader.feed", slug=story.slug, _external=True),
    )


@bp.post("/stories")
def create_story() -> tuple[Response, int, dict[str, str]]:
    """Open a story (editors)."""
    actor = authenticate()
    story = runtime().service.create_story(actor, json_body())
    body = story_json(story)
    return jsonify(body), 201, {"Location": body["url"]}


@bp.get("/stories/<slug>")
def get_story(slug: str) -> Response:
    """Return a story (public)."""
    if request.headers.get("Authorization"):
        _check_reader()
    with runtime().db.read() as session:
        story = require_story(session, slug)
        return jsonify(story_json(story))


def _check_reader() -> None:
    """Check the credential of a public read: a partner key or an API token must be valid."""
    token = request.headers.get("Authorization", "").partition(" ")[2].strip()
    if not is_partner_key(token):
        authenticate()
        return
    with runtime().db.read() as session:
        if grant_for(session, token) is None:
            raise Unauthorized(N_("The partner key is not valid (any more)."), code="invalid_key")


@bp.patch("/stories/<slug>")
def update_story(slug: str) -> Response:
    """Change a story's title, summary or status (editors)."""
    actor = authenticate()
    story = runtime().service.update_story(actor, slug, json_body())
    return jsonify(story_json(story))


@bp.post("/stories/<slug>/posts")
def create_post(slug: str) -> tuple[Response, int] | tuple[Response, int, dict[str, str]]:
    """Publish a post; a contributor's waits for an editor as a submission (202)."""
    actor = authenticate()
    if actor.role is Role.CONTRIBUTOR:
        from .drafts import submit_post

        return submit_post(actor, slug, json_body())
    return jsonify(runtime().service.create_post(actor, slug, json_body())), 201


@bp.patch("/stories/<slug>/posts/<post_id>")
def update_post(slug: str, post_id: str) -> Response:
    """Edit a post at the version the caller last saw."""
    actor = authenticate()
    return jsonify(runtime().service.update_post(actor, slug, post_id, json_body()))


def optional_json_body() -> Any:
    """Parse the request body as JSON, or return None when there is none."""
    return json_body() if request.get_data().strip() else None


@bp.delete("/stories/<slug>/posts/<post_id>")
def delete_post(slug: str, post_id: str) -> tuple[str, int]:
    """Take a post down everywhere, replays included (editors); optional `{reason}`."""
    actor = authenticate()
    runtime().service.delete_post(actor, slug, post_id, optional_json_body())
    return "", 204


@bp.post("/stories/<slug>/posts/<post_id>/purge")
def purge_post(slug: str, post_id: str) -> tuple[str, int]:
    """Erase a post's text from its history too, taking it down if it is up (admins)."""
    actor = authenticate()
    runtime().service.purge_post(actor, slug, post_id, json_body())
    return "", 204


@bp.get("/stories/<slug>/events")
def events(slug: str) -> Response:
    """Return a story's events after a seq, ascending (public; cacheable, 304 by ETag).

    Readers polling instead of holding a WebSocket round `after` down, so thousands of them
    ask for a few URLs: one render per (story, last seq, after, limit), a few seconds in
    shared caches, and `304` for a client whose copy is current (one story-row read).
    """
    after = int_arg("after", 0, 0)
    limit = int_arg("limit", 100, 1, MAX_EVENTS_PAGE)
    with runtime().db.read() as session:
        story = require_story(session, slug)
        story_id, last_seq = story.id, story.last_seq
    # The URL names story, after and limit; the live process answers 304 from this alone.
    etag = events_etag(last_seq)

    def render() -> Rendered:
        with runtime().db.read() as session:
            frames = [f for f in event_frames(session, story_id, after, limit) if f[0] <= last_seq]
        # The stored frames are already JSON: join them instead of decoding and re-encoding.
        body = '{"events":[' + ",".join(f for _, f in frames) + f'],"last_seq":{last_seq}}}'
        return Rendered(body.encode(), "application/json")

    max_age: int = current_app.config["LIVEBLOG_EVENTS_MAX_AGE"]
    return send(("events", story_id, last_seq, after, limit), etag, render, max_age=max_age)


@bp.get("/openapi.json")
def openapi() -> Response:
    """Return the OpenAPI 3.1 document of this API (public)."""
    response = jsonify(openapi_document(url_for("reader.index", _external=True)))
    response.headers["Cache-Control"] = "public, max-age=300"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response
