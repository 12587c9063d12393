"""What readers see of the newsroom's checks: timelines, follow-ups, "what we know", labels.

The display side of issue 10, kept apart from the page assembly in `page.py`: the public
page explaining the statuses, each post's verification timeline, follow-up links, the
"what we know / what we don't know yet" box, and the words `trust.js` needs for the same.
The rules themselves live in `verdicts.py` (no Flask); this module only shows them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, render_template, request, url_for
from flask_babel import force_locale, get_locale, gettext
from sqlalchemy.orm import Session

from ..i18n import LOCALES, VERIFICATION_ICONS, VERIFICATION_LABELS
from ..models import Post, Story, Verification
from ..payloads import dumps, rfc3339
from ..queries import briefing_posts, require_story, story_seq
from ..renders import Rendered
from ..runtime import runtime
from ..sanitize import plain_text
from ..verdicts import TEXT_CHANGED
from .delivery import send

bp = Blueprint("trust", __name__)

EXCERPT = 110  # characters of a post's text in the "what we know" box
BOX_LIMIT = 5  # posts listed per section of the box
BRIEFING_MAX_AGE = 5  # seconds a shared cache may keep the box's JSON

#: {group: (how many posts, the newest few)}, as `queries.briefing_posts` returns it.
Groups = dict[str, tuple[int, list[Post]]]
#: The story's seq the box was read at, and its groups.
Briefing = tuple[int, Groups]
TRIES = 5  # reads of the box before settling for one a write may have crossed


@bp.get("/verification")
def verification() -> Response:
    """Explain the verification statuses, the timeline and takedowns, in the reader's language."""
    html = render_template("reader/verification.html", statuses=list(Verification))
    response = Response(html, mimetype="text/html")
    if request.args.get("lang") in LOCALES:  # the URL names the language: any cache may keep it
        response.headers["Cache-Control"] = "public, max-age=300"
    else:
        response.headers["Cache-Control"] = "private, no-cache"
    return response


def help_url(locale: str) -> str:
    """Return the explainer page's URL in the reader's language."""
    return url_for("trust.verification", lang=locale)


@bp.app_context_processor
def _help_link() -> dict[str, Any]:
    """Give every page that shows a badge (story pages, permalinks) the explainer's URL."""
    return {"help_url": help_url(str(get_locale() or "en"))}


# -- the timeline of one post ----------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One status in a post's verification timeline, as the page shows it."""

    status: str
    label: str
    at: Any  # a page.Stamp
    note: str
    reason: str


def reason_text(reason: str) -> str:
    """Return why a status changed by itself, in the reader's language ("" if it did not)."""
    return gettext("the text changed after the check") if reason == TEXT_CHANGED else ""


def timeline(post: Post, stamp: Callable[[datetime], Any]) -> list[Step]:
    """Return the post's verification timeline, oldest first, with display times."""
    steps = []
    for entry in post.verification_history or []:
        status = Verification(entry["status"])
        steps.append(
            Step(
                status=status.value,
                label=str(VERIFICATION_LABELS[status]),
                at=stamp(datetime.fromisoformat(entry["at"])),
                note=entry.get("note", ""),
                reason=reason_text(entry.get("reason", "")),
            )
        )
    return steps


def json_ld_reviews(post: Post, url: str) -> list[dict[str, Any]]:
    """Return the post's verification timeline as schema.org ClaimReviews."""
    reviews = []
    for entry in post.verification_history or []:
        review: dict[str, Any] = {
            "@type": "ClaimReview",
            "datePublished": entry["at"],
            "url": url,
            "reviewRating": {
                "@type": "Rating",
                "alternateName": str(VERIFICATION_LABELS[Verification(entry["status"])]),
            },
            "additionalType": entry["status"],
        }
        if entry.get("note"):
            review["reviewBody"] = entry["note"]
        reviews.append(review)
    return reviews


# -- feeds -----------------------------------------------------------------------------------


def status_lines(language: str) -> dict[Verification, str]:
    """Return the visible status line feed items carry, in the story's language."""
    with force_locale(language):
        return {
            status: f"{VERIFICATION_ICONS[status]} {VERIFICATION_LABELS[status]}"
            for status in Verification
            if status is not Verification.UNVERIFIED
        }


# -- "what we know / what we don't know yet" -------------------------------------------------


@dataclass(frozen=True)
class Claim:
    """One post listed in the box."""

    id: str
    status: str
    text: str
    published: str  # RFC 3339: the script keeps the lists newest first with it
    url: str  # the post's permalink


def excerpt(post: Post) -> str:
    """Return what the box shows of a post: its headline, else the start of its text."""
    if post.headline:
        return post.headline
    text = plain_text(post.body, sanitized=True)
    return text if len(text) <= EXCERPT else text[: EXCERPT - 1].rstrip() + "…"


def post_url(story: Story, post_id: str, lang: dict[str, Any] | None = None) -> str:
    """Return a post's permalink (contract section 6), keeping the page's ?lang=."""
    return url_for("reader.permalink", slug=story.slug, post_id=post_id, **(lang or {}))


def briefing(story: Story, read: Briefing, lang: dict[str, Any] | None = None) -> dict[str, Any]:
    """Return the box's sections: the editors' wording, and per group a count and the newest."""
    seq, groups = read
    box: dict[str, Any] = {"seq": seq, "known_text": story.known, "unknown_text": story.unknown}
    counts: dict[str, int] = {}
    for name, (count, posts) in groups.items():
        counts[name] = count
        box[name] = [
            Claim(
                post.id,
                post.verification.value,
                excerpt(post),
                rfc3339(post.published_at) or "",
                post_url(story, post.id, lang),
            )
            for post in posts
        ]
    box["counts"] = counts
    return box


def load_briefing(session: Session, story: Story) -> Briefing:
    """Read the box's groups for a story with the seq they stand at: bounded queries.

    The script applies only events after that seq to the box, so the seq must be the one
    the counts were read at: the story's seq is read before and after, and the read is
    repeated if a write came between (every write bumps the seq in its own transaction).
    """
    seq = story_seq(session, story)
    for _ in range(TRIES):
        groups = briefing_posts(session, story, BOX_LIMIT)
        after = story_seq(session, story)
        if after == seq:
            break
        seq = after
    return seq, groups


@bp.get("/stories/<slug>/briefing.json")
def briefing_json(slug: str) -> Response:
    """Return the box as JSON for the live page when an event alone cannot update it.

    Language-free (the page has the words), keyed by the story's last seq: one render per
    change of the story however many readers ask, and shared caches may keep it briefly.
    """
    with runtime().db.read() as session:
        story = require_story(session, slug)

    def render() -> Rendered:
        with runtime().db.read() as session:
            seq, groups = load_briefing(session, story)
        box = briefing(story, (seq, groups))
        doc = {
            "last_seq": seq,
            "known_text": box["known_text"],
            "unknown_text": box["unknown_text"],
            **{
                name: {"count": box["counts"][name], "posts": [asdict(c) for c in box[name]]}
                for name in groups
            },
        }
        return Rendered(dumps(doc).encode(), "application/json")

    key = ("briefing", story.id, story.last_seq, url_for("reader.index", _external=True))
    etag = f"briefing-{story.id}-{story.last_seq}"
    return send(key, etag, render, max_age=BRIEFING_MAX_AGE)


def client_text(locale: str) -> dict[str, Any]:
    """Return the words and links `trust.js` needs, in the reader's language."""
    from .page import plural_templates  # page imports this module

    return {
        "helpUrl": help_url(locale),
        "help": gettext("What these labels mean"),
        "history": gettext("Verification history"),
        "reasons": {TEXT_CHANGED: reason_text(TEXT_CHANGED)},
        "followup": gettext("Follow-up"),
        "followsUp": gettext("Follows up on an earlier update"),
        "outcome": gettext("Outcome: %(status)s"),
        "seeFollowup": gettext("See the follow-up at %(time)s"),
        "more": gettext("and %(num)s more"),
        "openCount": plural_templates(
            "%(num)d claim not yet verified", "%(num)d claims not yet verified"
        ),
    }
