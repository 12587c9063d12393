"""Check and normalize what the write API receives, before anything touches the database.

This module does no I/O and imports nothing from Flask. Every refusal is an `Invalid`
(422) naming the field, or `TooLarge` (413) for an over-long post body.
"""

from __future__ import annotations

import re
import unicodedata
import zoneinfo
from dataclasses import dataclass
from functools import cache
from typing import Any

from .errors import N_, BadRequest, Invalid
from .formats import body_html, parse_format
from .models import StoryStatus, Verification

LANGUAGES = ("id", "en")
SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
MAX_SLUG = 80
MAX_TITLE = 200
MAX_SUMMARY = 2000
MAX_NOTE = 1000
MAX_HEADLINE = 200
MAX_COAUTHORS = 5
#: The largest value an integer column holds on every database we run on (PostgreSQL int4).
MAX_INT = 2**31 - 1
POST_ID_RE = re.compile(r"^[a-z0-9]{1,32}$")
_DIGITS_RE = re.compile(r"[0-9]{1,10}")
MAX_POST_ID = 32

_UNSET: Any = object()

#: The fields each request body may hold (the OpenAPI document is held to these by a test).
STORY_CREATE_FIELDS = ("title", "language", "timezone", "slug", "summary")
STORY_UPDATE_FIELDS = ("title", "summary", "status", "known", "unknown")
POST_CREATE_FIELDS = (
    "body",
    "format",
    "headline",
    "coauthors",
    "verification",
    "pinned",
    "key_event",
    "resolves",
)
POST_UPDATE_FIELDS = ("version", *POST_CREATE_FIELDS, "correction")
VERIFICATION_FIELDS = ("status", "note")
TAKEDOWN_FIELDS = ("reason",)


@cache
def _zones() -> frozenset[str]:
    # The tz database's own helper files are not zone names readers would recognize.
    return frozenset(zoneinfo.available_timezones()) - {"localtime", "posixrules", "Factory"}


def whole_number(raw: str, field: str, low: int = 0, high: int = MAX_INT) -> int:
    """Return `raw` as an int if it is ASCII digits within [low, high], or raise Invalid.

    Only 0-9 count: `int()` would also take "٣", " 3", "1_0", and `str.isdigit()` says
    yes to "²", which `int()` then refuses.
    """
    if not _DIGITS_RE.fullmatch(raw):
        raise Invalid(field, N_("The parameter '%(field)s' must be a whole number."))
    value = int(raw)
    if not low <= value <= high:
        raise Invalid(field, N_("The parameter '%(field)s' is out of range."))
    return value


def possible_slug(slug: str) -> bool:
    """Tell whether a story could have this slug (else it is a 404 without a query)."""
    return len(slug) <= MAX_SLUG and SLUG_RE.match(slug) is not None


def possible_post_id(post_id: str) -> bool:
    """Tell whether a post could have this id (else it is a 404 without a query)."""
    return POST_ID_RE.match(post_id) is not None


def holds_nul(data: Any) -> bool:
    """Tell whether any string (key or value) in decoded JSON holds a NUL character."""
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def require_object(data: Any) -> dict[str, Any]:
    """Return the request body if it is a JSON object."""
    if not isinstance(data, dict):
        raise BadRequest(N_("The request body must be a JSON object."))
    return data


def _only(data: dict[str, Any], allowed: tuple[str, ...]) -> None:
    for key in data:
        if key not in allowed:
            raise Invalid(key, N_("Unknown field '%(field)s'."))


def _text(data: dict[str, Any], field: str, limit: int, *, required: bool = False) -> Any:
    if field not in data:
        if required:
            raise Invalid(field, N_("The field '%(field)s' is required."))
        return _UNSET
    value = data[field]
    if not isinstance(value, str):
        raise Invalid(field, N_("The field '%(field)s' must be a string."))
    value = value.strip()
    if CONTROL_RE.search(value):
        raise Invalid(field, N_("The field '%(field)s' holds control characters."))
    if len(value) > limit:
        raise Invalid(
            field, N_("The field '%(field)s' is longer than %(limit)d characters."), limit=limit
        )
    if required and not value:
        raise Invalid(field, N_("The field '%(field)s' must not be empty."))
    return value


def _bool(data: dict[str, Any], field: str) -> Any:
    if field not in data:
        return _UNSET
    if not isinstance(data[field], bool):
        raise Invalid(field, N_("The field '%(field)s' must be true or false."))
    return data[field]


@dataclass(frozen=True)
class BodyInput:
    """A post body as written (`source`, in `format`) and as stored (`html`, sanitized)."""

    html: str
    format: str
    source: str


def _body(data: dict[str, Any], *, required: bool) -> Any:
    """Return the body as a BodyInput; a body without `format` is HTML, as before."""
    fmt = parse_format(data.get("format"))
    if "body" not in data:
        if required:
            raise Invalid("body", N_("The field '%(field)s' is required."))
        return _UNSET
    raw = data["body"]
    if not isinstance(raw, str):
        raise Invalid("body", N_("The field '%(field)s' must be a string."))
    body = body_html(raw, fmt)
    if not body:
        raise Invalid("body", N_("The post body is empty once unsafe markup is removed."))
    return BodyInput(body, fmt.value, raw.replace("\r\n", "\n"))


def _headline(data: dict[str, Any]) -> Any:
    """Return the plain-text headline ("" clears it, as null does), or unset."""
    if data.get("headline", _UNSET) is None:
        return ""
    value = _text(data, "headline", MAX_HEADLINE)
    if value is not _UNSET and any(unicodedata.category(c) == "Cc" for c in value):
        raise Invalid("headline", N_("The field '%(field)s' holds control characters."))
    return value


def _coauthors(data: dict[str, Any]) -> Any:
    """Return the co-authors' usernames, in order and without repeats, or unset."""
    if "coauthors" not in data:
        return _UNSET
    names = data["coauthors"]
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise Invalid("coauthors", N_("The field 'coauthors' must be a list of usernames."))
    unique = list(dict.fromkeys(n.strip() for n in names if n.strip()))
    if len(unique) > MAX_COAUTHORS:
        raise Invalid(
            "coauthors", N_("A post has at most %(limit)d co-authors."), limit=MAX_COAUTHORS
        )
    return tuple(unique)


@dataclass(frozen=True)
class VerificationInput:
    """A requested verification status and its note."""

    status: Verification
    note: str


def _verification(data: dict[str, Any]) -> VerificationInput | None:
    if "verification" not in data:
        return None
    value = data["verification"]
    if not isinstance(value, dict):
        raise Invalid("verification", N_("The field '%(field)s' must be an object."))
    _only(value, VERIFICATION_FIELDS)
    status = value.get("status")
    try:
        parsed = Verification(status) if isinstance(status, str) else None
    except ValueError:
        parsed = None
    if parsed is None:
        raise Invalid(
            "verification.status",
            N_("The verification status must be one of: unverified, confirmed, disputed, false."),
        )
    note = _text(value, "note", MAX_NOTE)
    return VerificationInput(parsed, "" if note is _UNSET else note)


def slugify(title: str) -> str:
    """Turn a title into a URL slug of ASCII letters, digits and hyphens."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")
    return slug[:MAX_SLUG].rstrip("-") or "story"


@dataclass(frozen=True)
class StoryCreate:
    """A validated request to open a story."""

    title: str
    language: str
    timezone: str
    slug: str | None
    summary: str


def parse_story_create(data: Any) -> StoryCreate:
    """Validate a new story."""
    data = require_object(data)
    _only(data, STORY_CREATE_FIELDS)
    title = _text(data, "title", MAX_TITLE, required=True)
    language = data.get("language")
    if language not in LANGUAGES:
        raise Invalid("language", N_("The language must be 'id' or 'en'."))
    timezone = data.get("timezone")
    if not isinstance(timezone, str) or timezone not in _zones():
        raise Invalid("timezone", N_("The time zone must be an IANA name such as Asia/Jakarta."))
    slug = _text(data, "slug", MAX_SLUG)
    if slug is not _UNSET and not SLUG_RE.match(slug):
        raise Invalid("slug", N_("The slug may hold only lowercase letters, digits and hyphens."))
    summary = _text(data, "summary", MAX_SUMMARY)
    return StoryCreate(
        title=title,
        language=language,
        timezone=timezone,
        slug=None if slug is _UNSET else slug,
        summary="" if summary is _UNSET else summary,
    )


@dataclass(frozen=True)
class StoryUpdate:
    """A validated change to a story; None means unchanged."""

    title: str | None
    summary: str | None
    status: StoryStatus | None
    known: str | None = None  # the editors' "what we know" wording
    unknown: str | None = None  # ... and "what we don't know yet"


def parse_story_update(data: Any) -> StoryUpdate:
    """Validate a change to a story."""
    data = require_object(data)
    _only(data, STORY_UPDATE_FIELDS)
    title = _text(data, "title", MAX_TITLE)
    if title is not _UNSET and not title:
        raise Invalid("title", N_("The field '%(field)s' must not be empty."))
    summary = _text(data, "summary", MAX_SUMMARY)
    status = data.get("status")
    if "status" in data and status not in ("live", "ended"):
        raise Invalid("status", N_("The status must be 'live' or 'ended'."))
    update = StoryUpdate(
        title=None if title is _UNSET else title,
        summary=None if summary is _UNSET else summary,
        status=StoryStatus(status) if status is not None else None,
        known=_optional_text(data, "known"),
        unknown=_optional_text(data, "unknown"),
    )
    if update == StoryUpdate(None, None, None):
        raise Invalid("status", N_("Nothing to change: give title, summary or status."))
    return update


def _resolves(data: dict[str, Any]) -> Any:
    """Return the id of the earlier post this one follows up, None to clear it, or unset."""
    if "resolves" not in data:
        return _UNSET
    value = data["resolves"]
    if value is None:
        return None
    if not isinstance(value, str) or not value or len(value) > MAX_POST_ID:
        raise Invalid("resolves", N_("The field 'resolves' must be the id of an earlier post."))
    return value


@dataclass(frozen=True)
class PostCreate:
    """A validated new post with its body already sanitized."""

    body: BodyInput
    verification: VerificationInput
    pinned: bool
    key_event: bool
    resolves: str | None = None
    headline: str = ""
    coauthors: tuple[str, ...] = ()


def parse_post_create(data: Any) -> PostCreate:
    """Validate and sanitize a new post."""
    data = require_object(data)
    _only(data, POST_CREATE_FIELDS)
    body = _body(data, required=True)
    verification = _verification(data) or VerificationInput(Verification.UNVERIFIED, "")
    pinned = _bool(data, "pinned")
    key_event = _bool(data, "key_event")
    resolves = _resolves(data)
    headline = _headline(data)
    coauthors = _coauthors(data)
    return PostCreate(
        body=body,
        headline="" if headline is _UNSET else headline,
        coauthors=() if coauthors is _UNSET else coauthors,
        verification=verification,
        pinned=False if pinned is _UNSET else pinned,
        key_event=False if key_event is _UNSET else key_event,
        resolves=None if resolves is _UNSET else resolves,
    )


@dataclass(frozen=True)
class PostUpdate:
    """A validated change to a post; None means unchanged."""

    version: int
    body: BodyInput | None
    verification: VerificationInput | None
    pinned: bool | None
    key_event: bool | None
    correction: str | None
    resolves: Any = _UNSET  # a post id, None to clear, or _UNSET (unchanged)
    headline: str | None = None  # "" clears it
    coauthors: tuple[str, ...] | None = None  # () clears them

    @property
    def resolves_given(self) -> bool:
        """Tell whether the request names (or clears) the post this one follows up."""
        return self.resolves is not _UNSET


def parse_post_update(data: Any) -> PostUpdate:
    """Validate and sanitize a change to a post."""
    data = require_object(data)
    _only(data, POST_UPDATE_FIELDS)
    version = data.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version <= MAX_INT:
        raise Invalid("version", N_("The field 'version' must be the post's current version."))
    body = _body(data, required=False)
    pinned = _bool(data, "pinned")
    key_event = _bool(data, "key_event")
    correction = _text(data, "correction", MAX_NOTE)
    if correction is not _UNSET and not correction:
        raise Invalid("correction", N_("The field '%(field)s' must not be empty."))
    update = PostUpdate(
        version=version,
        body=None if body is _UNSET else body,
        verification=_verification(data),
        pinned=None if pinned is _UNSET else pinned,
        key_event=None if key_event is _UNSET else key_event,
        correction=None if correction is _UNSET else correction,
        resolves=_resolves(data),
        headline=_or_none(_headline(data)),
        coauthors=_or_none(_coauthors(data)),
    )
    if update == PostUpdate(version, None, None, None, None, None):
        raise Invalid(
            "body",
            N_(
                "Nothing to change: give body (with format), headline, coauthors, verification,"
                " pinned, key_event, correction or resolves."
            ),
        )
    return update


def _or_none(value: Any) -> Any:
    return None if value is _UNSET else value


def _optional_text(data: dict[str, Any], field: str) -> str | None:
    value = _text(data, field, MAX_SUMMARY)
    return None if value is _UNSET else str(value)


def parse_takedown(data: Any, *, reason_required: bool) -> str:
    """Validate why a post is taken down (`{reason}`); no body at all means no reason."""
    if data is None and not reason_required:
        return ""
    data = require_object(data)
    _only(data, TAKEDOWN_FIELDS)
    reason = _text(data, "reason", MAX_NOTE, required=reason_required)
    return "" if reason is _UNSET else str(reason)
