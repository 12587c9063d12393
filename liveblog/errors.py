"""Errors the domain raises; the web layer turns each into a JSON or HTML answer.

Imports nothing from Flask. Messages are marked with `N_` for extraction and translated
when the answer is rendered, with `params` filled in afterwards.
"""

from __future__ import annotations

from typing import Any


def N_(message: str) -> str:  # noqa: N802 - gettext's conventional marker name
    """Mark a message for extraction without translating it yet."""
    return message


class LiveblogError(Exception):
    """A refusal with an HTTP status, a stable machine code and a human message."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, **params: Any) -> None:
        super().__init__(message % params if params else message)
        self.message = message
        self.params = params
        if code is not None:
            self.code = code
        self.details: dict[str, Any] = {}


class BadRequest(LiveblogError):
    """The request could not be read (malformed JSON, not an object)."""

    status = 400
    code = "bad_request"


class Unauthorized(LiveblogError):
    """No credentials, or credentials that match nobody."""

    status = 401
    code = "unauthorized"


class Forbidden(LiveblogError):
    """The caller's role does not allow this."""

    status = 403
    code = "forbidden"


class NotFound(LiveblogError):
    """The story or post does not exist."""

    status = 404
    code = "not_found"


class Conflict(LiveblogError):
    """The change conflicts with the current state (stale version, taken slug)."""

    status = 409
    code = "conflict"


class TooLarge(LiveblogError):
    """The request or one of its fields is over its size limit."""

    status = 413
    code = "too_large"


class Invalid(LiveblogError):
    """A field is missing, of the wrong type, or has a value that is not allowed."""

    status = 422
    code = "invalid_field"

    def __init__(self, field: str, message: str, **params: Any) -> None:
        super().__init__(message, field=field, **params)
        self.details = {"field": field}
