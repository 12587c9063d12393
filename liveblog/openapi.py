"""The OpenAPI 3.1 description of `/api/v1` (contract section 8), built as a plain dict.

Field names and limits come from `validation.py`; a test holds the document to the
routes Flask serves and to the fields validation accepts, and schemathesis checks the
answers against it. This module does no I/O and imports nothing from Flask.
"""

from __future__ import annotations

from typing import Any

from . import openapi_drafts as drafts
from . import validation as v
from .formats import TextFormat
from .models import EventType, StoryStatus, Verification
from .openapi_drafts import obj as _obj
from .openapi_drafts import ref as _ref
from .sanitize import MAX_BODY_CHARS

MAX_EVENTS_PAGE = 1000
JSON = "application/json"


STAMP = {"type": "string", "format": "date-time"}
NULLABLE_STAMP = {"type": ["string", "null"], "format": "date-time"}
TEXT_NOTE = {"type": "string", "maxLength": v.MAX_NOTE}
POST_ID = {"type": "string", "pattern": v.POST_ID_RE.pattern, "maxLength": v.MAX_POST_ID}
SLUG = {"type": "string", "pattern": v.SLUG_RE.pattern, "minLength": 1, "maxLength": v.MAX_SLUG}
STATUSES = [s.value for s in Verification]

VERIFICATION = _obj(
    {"status": {"type": "string", "enum": STATUSES}, "note": TEXT_NOTE},
    ("status",),
    additionalProperties=False,
)
RESOLVES = {
    "type": ["string", "null"],
    "minLength": 1,
    "maxLength": v.MAX_POST_ID,
    "description": "The id of an earlier, live post of the story this one follows up.",
}
BODY = {
    "type": "string",
    "maxLength": MAX_BODY_CHARS,
    "description": "HTML, Markdown or plain text as `format` says; stored as sanitized HTML.",
}
HEADLINE = {
    "type": ["string", "null"],
    "maxLength": v.MAX_HEADLINE,
    "description": 'A plain-text headline (no HTML, no control characters); null or "" clears it.',
}
COAUTHORS = {
    "type": "array",
    "maxItems": v.MAX_COAUTHORS,
    "items": {"type": "string"},
    "description": "Usernames of enabled users on the byline after the author, in order.",
}
FORMAT = {
    "type": "string",
    "enum": [f.value for f in TextFormat],
    "default": TextFormat.HTML.value,
    "description": "How `body` is written (see docs/API.md).",
}

REQUESTS: dict[str, dict[str, Any]] = {
    "StoryCreate": _obj(
        {
            "title": {"type": "string", "minLength": 1, "maxLength": v.MAX_TITLE},
            "language": {"type": "string", "enum": list(v.LANGUAGES)},
            "timezone": {"type": "string", "description": "An IANA zone, e.g. Asia/Jakarta."},
            "slug": SLUG,
            "summary": {"type": "string", "maxLength": v.MAX_SUMMARY},
        },
        ("title", "language", "timezone"),
        additionalProperties=False,
    ),
    "StoryUpdate": _obj(
        {
            "title": {"type": "string", "minLength": 1, "maxLength": v.MAX_TITLE},
            "summary": {"type": "string", "maxLength": v.MAX_SUMMARY},
            "status": {"type": "string", "enum": [s.value for s in StoryStatus]},
            "known": {"type": "string", "maxLength": v.MAX_SUMMARY},
            "unknown": {"type": "string", "maxLength": v.MAX_SUMMARY},
        },
        minProperties=1,
        additionalProperties=False,
    ),
    "PostCreate": _obj(
        {
            "body": BODY,
            "format": FORMAT,
            "headline": HEADLINE,
            "coauthors": COAUTHORS,
            "verification": _ref("VerificationInput"),
            "pinned": {"type": "boolean"},
            "key_event": {"type": "boolean"},
            "resolves": RESOLVES,
        },
        ("body",),
        additionalProperties=False,
    ),
    "PostUpdate": _obj(
        {
            "version": {"type": "integer", "minimum": 1, "maximum": v.MAX_INT},
            "body": BODY,
            "format": FORMAT,
            "headline": HEADLINE,
            "coauthors": COAUTHORS,
            "verification": _ref("VerificationInput"),
            "pinned": {"type": "boolean"},
            "key_event": {"type": "boolean"},
            "correction": {"type": "string", "minLength": 1, "maxLength": v.MAX_NOTE},
            "resolves": RESOLVES,
        },
        ("version",),
        minProperties=2,
        additionalProperties=False,
    ),
    "Takedown": _obj({"reason": TEXT_NOTE}, additionalProperties=False),
    "VerificationInput": VERIFICATION,
}

#: Which request schema checks which fields tuple of validation.py.
REQUEST_FIELDS = {
    "StoryCreate": v.STORY_CREATE_FIELDS,
    "StoryUpdate": v.STORY_UPDATE_FIELDS,
    "PostCreate": v.POST_CREATE_FIELDS,
    "PostUpdate": v.POST_UPDATE_FIELDS,
    "Takedown": v.TAKEDOWN_FIELDS,
    "VerificationInput": v.VERIFICATION_FIELDS,
    **drafts.REQUEST_FIELDS,
}

STORY = _obj(
    {
        "slug": {"type": "string"},
        "title": {"type": "string"},
        "summary": {"type": "string"},
        "known": {"type": "string"},
        "unknown": {"type": "string"},
        "language": {"type": "string", "enum": list(v.LANGUAGES)},
        "timezone": {"type": "string"},
        "status": {"type": "string", "enum": [s.value for s in StoryStatus]},
        "created_at": STAMP,
        "ended_at": NULLABLE_STAMP,
        "last_seq": {"type": "integer", "minimum": 0},
        "url": {"type": "string", "format": "uri"},
        "feed_url": {"type": "string", "format": "uri"},
    },
    (
        "slug",
        "title",
        "summary",
        "known",
        "unknown",
        "language",
        "timezone",
        "status",
        "created_at",
        "ended_at",
        "last_seq",
        "url",
        "feed_url",
    ),
)

HISTORY_ENTRY = _obj(
    {
        "status": {"type": "string", "enum": STATUSES},
        "note": {"type": "string"},
        "at": STAMP,
        "reason": {"type": "string"},
    },
    ("status", "note", "at"),
)

POST = _obj(
    {
        "id": {"type": "string"},
        "story": {"type": "string"},
        "body": {"type": "string"},
        "format": {"type": "string", "enum": [f.value for f in TextFormat]},
        "headline": {"type": ["string", "null"]},
        "author": _obj({"name": {"type": "string"}}, ("name",)),
        "authors": {
            "type": "array",
            "minItems": 1,
            "items": _obj({"name": {"type": "string"}}, ("name",)),
            "description": "The byline: the author first, then the co-authors in order.",
        },
        "source": {
            "type": "string",
            "description": "The body as written, in `format` (write answers only, never events).",
        },
        "coauthors": {
            "type": "array",
            "items": {"type": "string"},
            "description": "The co-authors' usernames (write API answers only, never events).",
        },
        "verification": _obj(
            {"status": {"type": "string", "enum": STATUSES}, "note": {"type": "string"}},
            ("status", "note"),
        ),
        "pinned": {"type": "boolean"},
        "key_event": {"type": "boolean"},
        "published_at": STAMP,
        "updated_at": STAMP,
        "version": {"type": "integer", "minimum": 1},
        "corrections": {
            "type": "array",
            "items": _obj({"note": {"type": "string"}, "at": STAMP}, ("note", "at")),
        },
        "verified_by_editor": {"type": "boolean"},
        "verification_history": {"type": "array", "items": HISTORY_ENTRY},
        "resolves": {"type": ["string", "null"]},
        "followups": {
            "type": "array",
            "items": _obj({"id": {"type": "string"}, "published_at": STAMP}, ("id",)),
        },
    },
    (
        "id",
        "story",
        "body",
        "format",
        "headline",
        "author",
        "authors",
        "verification",
        "pinned",
        "key_event",
        "published_at",
        "updated_at",
        "version",
        "corrections",
        "verified_by_editor",
        "verification_history",
        "resolves",
        "followups",
    ),
)

EVENT = _obj(
    {
        "seq": {"type": "integer", "minimum": 1},
        "type": {"type": "string", "enum": [t.value for t in EventType]},
        "at": STAMP,
        "story": {"type": "string"},
        "post": {
            "description": "The whole post; `{id}` for post.deleted; `{id, redacted: true}` "
            "once the post was taken down.",
            **_obj({"id": {"type": "string"}, "redacted": {"type": "boolean"}}, ("id",)),
        },
        "changes": {"type": "array", "items": {"type": "string"}},
        "values": {"type": "object"},
    },
    ("seq", "type", "at", "story"),
)

ERROR = _obj(
    {
        "error": _obj(
            {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "field": {"type": "string", "description": "On 422: the refused field."},
                "current": {"description": "On 409 stale_version: the post as it is now."},
                "service": {"type": "string", "description": "On 503: what is unreachable."},
            },
            ("code", "message"),
        )
    },
    ("error",),
)

ERROR_TEXT = {
    400: "Malformed JSON, a body that is not an object, or control characters.",
    401: "No token, or one that is not valid (any more).",
    403: "The token's role may not do this, or it is a (read-only) partner key.",
    404: "No such story or post.",
    409: "A conflict: stale version, slug taken, story ended, already purged.",
    413: "The post body is too long.",
    422: "A field is refused (`error.field` names it).",
    429: "Over the partner key's or the address's requests a minute (see Retry-After).",
    503: "The database is unreachable; nothing was written (see Retry-After).",
}


def _errors(*codes: int) -> dict[str, Any]:
    return {
        str(code): {
            "description": ERROR_TEXT[code],
            "content": {JSON: {"schema": _ref("Error")}},
        }
        for code in codes
    }


def _ok(code: int, description: str, schema: str | None, **headers: Any) -> dict[str, Any]:
    answer: dict[str, Any] = {"description": description}
    if schema:
        answer["content"] = {JSON: {"schema": _ref(schema)}}
    if headers:
        answer["headers"] = headers
    return {str(code): answer}


def _body(schema: str, *, required: bool = True) -> dict[str, Any]:
    return {"required": required, "content": {JSON: {"schema": _ref(schema)}}}


def _param(name: str, schema: dict[str, Any], where: str = "path") -> dict[str, Any]:
    return {"name": name, "in": where, "required": where == "path", "schema": schema}


BEARER: list[dict[str, list[str]]] = [{"bearer": []}]
WRITE_ERRORS = (400, 401, 403, 404, 409, 413, 422, 503)
SLUG_PARAM = _param("slug", SLUG)
POST_PARAMS = [SLUG_PARAM, _param("post_id", POST_ID)]


def _op(op_id: str, summary: str, responses: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"operationId": op_id, "summary": summary, "responses": responses, **extra}


PATHS: dict[str, dict[str, Any]] = {
    "/api/v1/openapi.json": {
        "get": _op(
            "getOpenAPI",
            "Return this document.",
            {"200": {"description": "The OpenAPI 3.1 document.", "content": {JSON: {}}}},
        ),
    },
    "/api/v1/stories": {
        "post": _op(
            "createStory",
            "Open a story (editors, admins).",
            {
                **_ok(201, "The new story.", "Story", Location={"schema": {"type": "string"}}),
                **_errors(*WRITE_ERRORS),
            },
            security=BEARER,
            requestBody=_body("StoryCreate"),
        ),
    },
    "/api/v1/stories/{slug}": {
        "parameters": [SLUG_PARAM],
        "get": _op(
            "getStory",
            "Return a story (public; a token, if given, must be valid).",
            {**_ok(200, "The story.", "Story"), **_errors(400, 401, 404, 503)},
            security=[{}, *BEARER, {"partnerKey": []}],
        ),
        "patch": _op(
            "updateStory",
            "Change a story's title, summary, status or what-we-know box (editors, admins).",
            {**_ok(200, "The story as changed.", "Story"), **_errors(*WRITE_ERRORS)},
            security=BEARER,
            requestBody=_body("StoryUpdate"),
        ),
    },
    "/api/v1/stories/{slug}/posts": {
        "parameters": [SLUG_PARAM],
        "post": _op(
            "createPost",
            "Publish a post; a contributor's waits for an editor's approval (202).",
            {
                **_ok(201, "The new post.", "Post"),
                **_ok(202, "A contributor's submission (a pending draft).", "Draft"),
                **_errors(*WRITE_ERRORS),
            },
            security=BEARER,
            requestBody=_body("PostCreate"),
        ),
    },
    "/api/v1/stories/{slug}/posts/{post_id}": {
        "parameters": POST_PARAMS,
        "patch": _op(
            "updatePost",
            "Edit a post at the version the caller last saw.",
            {**_ok(200, "The post as changed.", "Post"), **_errors(*WRITE_ERRORS)},
            security=BEARER,
            requestBody=_body("PostUpdate"),
        ),
        "delete": _op(
            "deletePost",
            "Take a post down everywhere, replays included (editors, admins).",
            {**_ok(204, "Taken down.", None), **_errors(*WRITE_ERRORS)},
            security=BEARER,
            requestBody=_body("Takedown", required=False),
        ),
    },
    "/api/v1/stories/{slug}/posts/{post_id}/purge": {
        "parameters": POST_PARAMS,
        "post": _op(
            "purgePost",
            "Erase a post's text from its history too (admins); `reason` is required.",
            {**_ok(204, "Purged.", None), **_errors(*WRITE_ERRORS)},
            security=BEARER,
            requestBody=_body("Takedown"),
        ),
    },
    "/api/v1/stories/{slug}/events": {
        "parameters": [SLUG_PARAM],
        "get": _op(
            "listEvents",
            "Return the story's events with seq > after, ascending (public).",
            {
                **_ok(200, "A page of the event log (ETag, public max-age).", "EventPage"),
                **_ok(304, "The copy named by If-None-Match is current.", None),
                **_errors(400, 401, 404, 422, 429, 503),
            },
            security=[{}, {"partnerKey": []}, {"partnerKeyQuery": []}, *BEARER],
            parameters=[
                _param("after", {"type": "integer", "minimum": 0, "maximum": v.MAX_INT}, "query"),
                _param(
                    "limit",
                    {"type": "integer", "minimum": 1, "maximum": MAX_EVENTS_PAGE, "default": 100},
                    "query",
                ),
            ],
        ),
    },
}


def openapi_document(server_url: str = "/") -> dict[str, Any]:
    """Return the OpenAPI 3.1 document of `/api/v1`, served from `server_url`."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "liveblog API",
            "version": "1",
            "description": "The write API and the public event log; see docs/API.md.",
        },
        "servers": [{"url": server_url}],
        "paths": {
            **PATHS,
            **drafts.paths(_ok, _errors, _body, _param, _op, BEARER, WRITE_ERRORS),
        },
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "partnerKey": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A read-only partner key (`lbk_…`): its own rate limit.",
                },
                "partnerKeyQuery": {"type": "apiKey", "in": "query", "name": "key"},
            },
            "schemas": {
                **REQUESTS,
                "Story": STORY,
                "Post": POST,
                "Event": EVENT,
                "EventPage": _obj(
                    {
                        "events": {"type": "array", "items": _ref("Event")},
                        "last_seq": {"type": "integer", "minimum": 0},
                    },
                    ("events", "last_seq"),
                ),
                "Error": ERROR,
                **drafts.SCHEMAS,
            },
        },
    }
