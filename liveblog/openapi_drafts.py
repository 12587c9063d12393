"""The OpenAPI description of the drafts routes, merged into `openapi.py`'s document.

Field names come from `draft_input.py`; a draft's `payload` is a `PostCreate`, so it
follows whatever the post API accepts. This module does no I/O and imports nothing from
Flask.
"""

from __future__ import annotations

from typing import Any

from . import draft_input as d
from . import validation as v
from .models import DraftState

JSON = "application/json"
STAMP = {"type": "string", "format": "date-time"}
NULLABLE_STAMP = {"type": ["string", "null"], "format": "date-time"}
PUBLISH_AT = {
    "type": ["string", "null"],
    "format": "date-time",
    "description": "RFC 3339 with an offset, in the next 30 days: schedules the draft; "
    "null cancels the schedule.",
}
VERSION = {"type": "integer", "minimum": 1, "maximum": v.MAX_INT}


def ref(name: str) -> dict[str, str]:
    """Return a reference to a component schema (shared with `openapi.py`)."""
    return {"$ref": f"#/components/schemas/{name}"}


def obj(props: dict[str, Any], required: tuple[str, ...] = (), **extra: Any) -> dict[str, Any]:
    """Return an object schema with these properties (shared with `openapi.py`)."""
    schema: dict[str, Any] = {"type": "object", "properties": props, **extra}
    if required:
        schema["required"] = list(required)
    return schema


SUBMIT = {"type": "boolean", "description": "Send it to the editors for approval (pending)."}

REQUESTS: dict[str, dict[str, Any]] = {
    "DraftCreate": obj(
        {"payload": ref("PostCreate"), "publish_at": PUBLISH_AT, "submit": SUBMIT},
        ("payload",),
        additionalProperties=False,
    ),
    "DraftUpdate": obj(
        {
            "version": VERSION,
            "payload": ref("PostCreate"),
            "publish_at": PUBLISH_AT,
            "submit": SUBMIT,
        },
        ("version",),
        minProperties=2,
        additionalProperties=False,
    ),
    "DraftPublish": obj({"version": VERSION}, additionalProperties=False),
    "DraftReject": obj(
        {
            "version": VERSION,
            "reason": {"type": "string", "minLength": 1, "maxLength": v.MAX_NOTE},
        },
        ("reason",),
        additionalProperties=False,
    ),
}

REQUEST_FIELDS = {
    "DraftCreate": d.DRAFT_CREATE_FIELDS,
    "DraftUpdate": d.DRAFT_UPDATE_FIELDS,
    "DraftPublish": d.DRAFT_PUBLISH_FIELDS,
    "DraftReject": d.DRAFT_REJECT_FIELDS,
}

NAME = obj({"name": {"type": "string"}}, ("name",))
DRAFT = obj(
    {
        "id": {"type": "string"},
        "story": {"type": "string"},
        "state": {"type": "string", "enum": [s.value for s in DraftState]},
        "payload": {"type": "object", "description": "The post request, as saved."},
        "publish_at": NULLABLE_STAMP,
        "author": NAME,
        "reviewer": {"anyOf": [NAME, {"type": "null"}]},
        "reviewed_at": NULLABLE_STAMP,
        "reason": {"type": "string", "description": "Why an editor rejected it."},
        "post": {"type": ["string", "null"], "description": "The post it became."},
        "created_at": STAMP,
        "updated_at": STAMP,
        "version": {"type": "integer", "minimum": 1},
    },
    (
        "id",
        "story",
        "state",
        "payload",
        "publish_at",
        "author",
        "reviewer",
        "reviewed_at",
        "reason",
        "post",
        "created_at",
        "updated_at",
        "version",
    ),
)
SCHEMAS = {
    **REQUESTS,
    "Draft": DRAFT,
    "DraftList": obj({"drafts": {"type": "array", "items": ref("Draft")}}, ("drafts",)),
}


def paths(
    ok: Any, errors: Any, body: Any, param: Any, op: Any, bearer: Any, write_errors: Any
) -> dict[str, dict[str, Any]]:
    """Return the drafts paths, built with `openapi.py`'s helpers."""
    story = [param("slug", {"type": "string", "pattern": v.SLUG_RE.pattern, "minLength": 1})]
    draft_id = {"type": "string", "pattern": v.POST_ID_RE.pattern, "maxLength": v.MAX_POST_ID}
    one = [*story, param("draft_id", draft_id)]
    read_errors = (400, 401, 404, 503)
    location = {"Location": {"schema": {"type": "string"}}}
    return {
        "/api/v1/stories/{slug}/drafts": {
            "parameters": story,
            "get": op(
                "listDrafts",
                "List the story's unpublished drafts: one's own; editors see all (never public).",
                {**ok(200, "The drafts, newest first.", "DraftList"), **errors(*read_errors)},
                security=bearer,
            ),
            "post": op(
                "createDraft",
                "Save a draft; `publish_at` schedules it, `submit` sends it for approval.",
                {**ok(201, "The draft.", "Draft", **location), **errors(*write_errors)},
                security=bearer,
                requestBody=body("DraftCreate"),
            ),
        },
        "/api/v1/stories/{slug}/drafts/{draft_id}": {
            "parameters": one,
            "get": op(
                "getDraft",
                "Return a draft (its author, editors).",
                {**ok(200, "The draft.", "Draft"), **errors(*read_errors)},
                security=bearer,
            ),
            "patch": op(
                "updateDraft",
                "Change, schedule, unschedule or submit a draft at the version last seen.",
                {**ok(200, "The draft as changed.", "Draft"), **errors(*write_errors)},
                security=bearer,
                requestBody=body("DraftUpdate"),
            ),
            "delete": op(
                "deleteDraft",
                "Throw an unpublished draft away (its author, editors).",
                {**ok(204, "Deleted.", None), **errors(*write_errors)},
                security=bearer,
            ),
        },
        "/api/v1/stories/{slug}/drafts/{draft_id}/publish": {
            "parameters": one,
            "post": op(
                "publishDraft",
                "Publish a draft now (one `post.created`); on a contributor's submission "
                "this is an editor's approval, the contributor staying the author.",
                {**ok(201, "The new post.", "Post"), **errors(*write_errors)},
                security=bearer,
                requestBody=body("DraftPublish", required=False),
            ),
        },
        "/api/v1/stories/{slug}/drafts/{draft_id}/reject": {
            "parameters": one,
            "post": op(
                "rejectDraft",
                "Send a pending submission back to its contributor with a reason (editors).",
                {**ok(200, "The draft, rejected.", "Draft"), **errors(*write_errors)},
                security=bearer,
                requestBody=body("DraftReject"),
            ),
        },
    }
