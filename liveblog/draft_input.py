"""Check what the drafts endpoints receive, before anything touches the database.

This module does no I/O and imports nothing from Flask. A draft's `payload` is held to
exactly what `POST .../posts` accepts (`validation.parse_post_create`), so a draft that
was saved can always be handed to the write path; refusals are `Invalid` (422).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from . import verdicts
from .errors import N_, Forbidden, Invalid
from .models import Role, Verification
from .validation import CONTROL_RE, MAX_INT, MAX_NOTE, parse_post_create, require_object

DRAFT_CREATE_FIELDS = ("payload", "publish_at", "submit")
DRAFT_UPDATE_FIELDS = ("version", "payload", "publish_at", "submit")
DRAFT_PUBLISH_FIELDS = ("version",)
DRAFT_REJECT_FIELDS = ("version", "reason")
#: How far ahead a draft may be scheduled.
HORIZON = timedelta(days=30)
_STAMP_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})$")
_KEEP: Any = object()


@dataclass(frozen=True)
class DraftChange:
    """A validated draft write; `_KEEP` fields are left as they are."""

    version: int | None
    payload: Any  # dict, or _KEEP
    publish_at: Any  # aware datetime, None to unschedule, or _KEEP
    submit: bool

    @property
    def payload_given(self) -> bool:
        """Tell whether the request replaces the payload."""
        return self.payload is not _KEEP

    @property
    def publish_at_given(self) -> bool:
        """Tell whether the request sets or clears the time to publish."""
        return self.publish_at is not _KEEP


def _only(data: dict[str, Any], allowed: tuple[str, ...]) -> None:
    for key in data:
        if key not in allowed:
            raise Invalid(key, N_("Unknown field '%(field)s'."))


def parse_version(data: dict[str, Any], *, required: bool) -> int | None:
    """Return the draft version the caller last saw."""
    if "version" not in data and not required:
        return None
    version = data.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version <= MAX_INT:
        raise Invalid("version", N_("The field 'version' must be the draft's current version."))
    return version


def parse_publish_at(value: Any, now: datetime) -> datetime | None:
    """Return an aware time in the next 30 days from RFC 3339 with an offset, or None."""
    if value is None:
        return None
    if not isinstance(value, str) or not _STAMP_RE.match(value):
        raise Invalid(
            "publish_at",
            N_("The time to publish must be RFC 3339 with an offset (2026-12-06T20:45:00+07:00)."),
        )
    try:
        at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise Invalid("publish_at", N_("The time to publish is not a real date.")) from None
    if at <= now:
        raise Invalid("publish_at", N_("The time to publish must be in the future."))
    if at > now + HORIZON:
        raise Invalid("publish_at", N_("The time to publish must be within 30 days."))
    return at


def check_payload(payload: Any, role: Role) -> dict[str, Any]:
    """Validate a post payload as the write path will, and what this role may put in it."""
    req = parse_post_create(payload)  # every refusal of POST .../posts, before saving
    if role is Role.CONTRIBUTOR:
        verified = req.verification.status is not Verification.UNVERIFIED
        # A note too: approved, it would read as the approving editor's own verdict note.
        if req.pinned or req.key_event or verified or req.verification.note:
            raise Forbidden(N_("Contributors may not set verification, pinned or key event."))
    else:
        verdicts.check_new(req.verification.status, is_editor=role.is_editor)
        if req.pinned and not role.is_editor:
            raise Forbidden(N_("Only editors may pin posts."))
    return dict(payload)


def parse_draft(data: Any, role: Role, now: datetime, *, update: bool) -> DraftChange:
    """Validate a new draft (`{payload, publish_at?, submit?}`) or a change to one."""
    data = require_object(data)
    _only(data, DRAFT_UPDATE_FIELDS if update else DRAFT_CREATE_FIELDS)
    version = parse_version(data, required=update)
    if "payload" in data:
        payload = check_payload(require_payload(data["payload"]), role)
    elif update:
        payload = _KEEP
    else:
        raise Invalid("payload", N_("The field '%(field)s' is required."))
    publish_at = parse_publish_at(data["publish_at"], now) if "publish_at" in data else _KEEP
    submit = data.get("submit", False)
    if not isinstance(submit, bool):
        raise Invalid("submit", N_("The field '%(field)s' must be true or false."))
    if role is Role.CONTRIBUTOR and publish_at not in (_KEEP, None):
        raise Forbidden(N_("Contributors submit drafts for approval; they cannot schedule them."))
    if submit and publish_at not in (_KEEP, None):
        raise Invalid("submit", N_("Submit a draft for approval or schedule it, not both."))
    if update and payload is _KEEP and publish_at is _KEEP and not submit:
        raise Invalid("payload", N_("Nothing to change: give payload, publish_at or submit."))
    return DraftChange(version=version, payload=payload, publish_at=publish_at, submit=submit)


def require_payload(value: Any) -> dict[str, Any]:
    """Return the payload if it is a JSON object."""
    if not isinstance(value, dict):
        raise Invalid("payload", N_("The field '%(field)s' must be an object."))
    return value


def parse_reject(data: Any) -> tuple[int | None, str]:
    """Validate a rejection: `{reason, version?}`; the contributor reads the reason."""
    data = require_object(data)
    _only(data, DRAFT_REJECT_FIELDS)
    version = parse_version(data, required=False)
    reason = data.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise Invalid("reason", N_("Give the contributor a reason."))
    if CONTROL_RE.search(reason):
        raise Invalid("reason", N_("The field '%(field)s' holds control characters."))
    if len(reason) > MAX_NOTE:
        raise Invalid(
            "reason",
            N_("The field '%(field)s' is longer than %(limit)d characters."),
            limit=MAX_NOTE,
        )
    return version, reason.strip()


def parse_publish(data: Any) -> int | None:
    """Validate a publish or approve request: an optional `{version}`."""
    if data is None:
        return None
    data = require_object(data)
    _only(data, DRAFT_PUBLISH_FIELDS)
    return parse_version(data, required=False)
