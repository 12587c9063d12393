"""What readers see of the newsroom's checks: timelines, follow-ups, "what we know", labels.

The display side of issue 10, kept apart from the page assembly in `page.py`: the public
page explaining the statuses, each post's verification timeline, follow-up links, the
"what we know / what we don't know yet" box, and the words `trust.js` needs for the same.
The rules themselves live in `verdicts.py` (no Flask); this module only shows them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, render_template, request, url_for
from flask_babel import force_locale, get_locale, gettext

from ..i18n import LOCALES, VERIFICATION_ICONS, VERIFICATION_LABELS
from ..models import Post, Story, Verification
from ..sanitize import plain_text
from ..verdicts import TEXT_CHANGED

bp = Blueprint("trust", __name__)

EXCERPT = 110  # characters of a post's text in the "what we know" box
BOX_LIMIT = 5  # posts listed per section of the box


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


def excerpt(post: Post) -> str:
    """Return the start of a post's text for the box."""
    text = plain_text(post.body, sanitized=True)
    return text if len(text) <= EXCERPT else text[: EXCERPT - 1].rstrip() + "…"


def briefing(story: Story, posts: Iterable[Post]) -> dict[str, Any]:
    """Return the box's sections: the editors' wording and the posts by status, newest first."""
    known: list[Claim] = []
    open_: list[Claim] = []
    ruled_false: list[Claim] = []
    for post in sorted(posts, key=lambda p: p.published_at, reverse=True):
        claim = Claim(post.id, post.verification.value, excerpt(post))
        if post.verification is Verification.CONFIRMED:
            known.append(claim)
        elif post.verification is Verification.FALSE:
            ruled_false.append(claim)
        else:
            open_.append(claim)
    return {
        "known_text": story.known,
        "unknown_text": story.unknown,
        "known": known[:BOX_LIMIT],
        "open": open_[:BOX_LIMIT],
        "false": ruled_false[:BOX_LIMIT],
        "counts": {"known": len(known), "open": len(open_), "false": len(ruled_false)},
    }


def client_text(locale: str) -> dict[str, Any]:
    """Return the words and links `trust.js` needs, in the reader's language."""
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
    }
