"""The request input guard: refuse input no view could use before any view runs.

Boundary: this module looks only at the request's path arguments, query string and form
fields, never at the database. It answers 404 for a slug or post id no story or post can
have, or a numeric id past the integer columns' range (so a NUL byte, a 300-character
"slug" or id 2**64 never reaches a query), and 400 for a NUL or other control character
in a query parameter or form field (PostgreSQL refuses NUL in text, and no field of ours
has a use for control characters). JSON bodies are checked
where they are parsed (`views.api.json_body`). Non-UTF-8 bytes arrive already replaced
by U+FFFD (Werkzeug decodes with errors="replace") and are left to the fields' own checks.
"""

from __future__ import annotations

import re

from flask import Flask, request

from .errors import N_, BadRequest, NotFound
from .validation import MAX_INT, possible_post_id, possible_slug

#: C0 controls except tab, newline and carriage return (forms send those in text areas).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_CONTROL_IN_NAME = re.compile(r"[\x00-\x1f\x7f]")
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def check_request() -> None:
    """Refuse impossible path arguments (404) and control characters in input (400)."""
    args = request.view_args or {}
    slug = args.get("slug")
    if isinstance(slug, str) and not possible_slug(slug):
        raise NotFound(N_("There is nothing here."))
    post_id = args.get("post_id")
    if isinstance(post_id, str) and not possible_post_id(post_id):
        raise NotFound(N_("There is nothing here."))
    for value in args.values():
        if isinstance(value, str) and _CONTROL_IN_NAME.search(value):
            raise NotFound(N_("There is nothing here."))
        if isinstance(value, int) and not 0 <= value <= MAX_INT:  # no row has such an id
            raise NotFound(N_("There is nothing here."))
    for key, value in request.args.items(multi=True):
        if _CONTROL_IN_NAME.search(key) or _CONTROL.search(value):
            raise BadRequest(
                N_("The request holds control characters."), code="control_characters"
            )
    if request.mimetype in _FORM_TYPES:
        for key, value in request.form.items(multi=True):
            if _CONTROL_IN_NAME.search(key) or _CONTROL.search(value):
                raise BadRequest(
                    N_("The request holds control characters."), code="control_characters"
                )


def init_app(app: Flask) -> None:
    """Run the guard before the views (call it before CSRFProtect reads the form)."""
    app.before_request(check_request)
