"""The editor desk's pages: the story list, opening a story, and one story's desk.

Every change goes through `runtime().service`, which checks the role; the pages only hide
what a role may not do. The forms here work without JavaScript; `static/desk.js` adds the
live post list, the preview, uploads, editing and the conflict view on top.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_skeleton, format_time
from flask import (
    Blueprint,
    Response,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext
from werkzeug.wrappers import Response as BaseResponse

from ..bylines import active_users
from ..errors import LiveblogError
from ..i18n import LOCALE_COOKIE, LOCALES, VERIFICATION_LABELS
from ..models import Role, StoryStatus, Verification, utcnow
from ..queries import all_stories, require_story
from ..runtime import runtime
from ..web import describe
from .desk_text import ROLE_LABELS, desk_messages
from .editor_auth import DeskUser, current_user, locale, refuse_foreign_origin
from .embed import embed_snippet
from .page import clock_options

bp = Blueprint("editor", __name__, url_prefix="/editor")

COMMON_ZONES = (
    "Asia/Jakarta",
    "Asia/Makassar",
    "Asia/Jayapura",
    "Asia/Singapore",
    "Asia/Kuala_Lumpur",
    "Asia/Bangkok",
    "Asia/Manila",
    "Asia/Tokyo",
    "Asia/Kolkata",
    "Australia/Sydney",
    "Europe/London",
    "Europe/Amsterdam",
    "America/New_York",
    "America/Los_Angeles",
    "UTC",
)


def user() -> DeskUser:
    """Return the signed-in user (the blueprint's guard made sure there is one)."""
    signed_in: DeskUser = g.desk_user
    return signed_in


@bp.before_request
def _guard() -> BaseResponse | None:
    refuse_foreign_origin()
    if current_user() is None:
        return redirect(url_for("auth.login_form", next=request.full_path.rstrip("?")))
    return None


@bp.context_processor
def _desk_context() -> dict[str, Any]:
    signed_in = current_user()
    return {"role_label": str(ROLE_LABELS[signed_in.role]) if signed_in else ""}


@bp.after_request
def _private(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    response.vary.add("Cookie")
    asked = request.args.get("lang")
    if asked in LOCALES and request.cookies.get(LOCALE_COOKIE) != asked:
        response.set_cookie(LOCALE_COOKIE, asked, max_age=365 * 86400, samesite="Lax")
    return response


def local_time(value: datetime, timezone: str) -> str:
    """Format a time in a story's zone as the reader page does ("6 Des 2026, 08.30 WIB")."""
    zone = ZoneInfo(timezone)
    local = value.astimezone(zone)
    day = format_skeleton("yMMMd", local, tzinfo=zone, locale=locale())
    return f"{day}, {format_time(local, 'short', tzinfo=zone, locale=locale())} {local.tzname()}"


def fixed_zone_name(timezone: str) -> str:
    """Return the zone's abbreviation (e.g. "WIB") if it never changes, else "".

    desk.js then shows post times as the server does ("20.15 WIB"); for zones with daylight
    saving time it lets the browser name the zone of each time instead.
    """
    zone = ZoneInfo(timezone)
    year = utcnow().year
    names = {datetime(year, month, 1, tzinfo=zone).tzname() for month in (1, 7)}
    name = names.pop() if len(names) == 1 else ""
    return name if name and name.isalpha() else ""


def verification_choices(desk_user: DeskUser) -> list[tuple[str, str]]:
    """Return the statuses this user may pick: reporters never see confirmed or false."""
    return [
        (status.value, str(VERIFICATION_LABELS[status]))
        for status in Verification
        if desk_user.is_editor or not status.needs_editor
    ]


def _index(status: int = 200, error: str | None = None) -> tuple[str, int]:
    with runtime().db.read() as session:
        rows = [
            {
                "story": story,
                "updated": local_time(story.updated_at, story.timezone),
                "updated_iso": story.updated_at.isoformat(),
            }
            for story in all_stories(session)
        ]
        html = render_template(
            "editor/index.html",
            locale=locale(),
            user=user(),
            rows=rows,
            zones=COMMON_ZONES,
            form=request.form,
            error=error,
        )
    return html, status


@bp.get("")
def index() -> tuple[str, int]:
    """List the stories with their status and last update."""
    return _index()


@bp.get("/")
def index_slash() -> BaseResponse:
    """Send /editor/ to /editor."""
    return redirect(url_for(".index"), code=308)


@bp.post("/stories")
def create_story() -> Any:
    """Open a new story (editors)."""
    form = request.form
    data = {
        "title": form.get("title", ""),
        "language": form.get("language", ""),
        "timezone": form.get("timezone_other", "").strip() or form.get("timezone", ""),
        "summary": form.get("summary", ""),
    }
    try:
        story = runtime().service.create_story(user().actor, data)
    except LiveblogError as error:
        return _index(error.status, describe(error))
    flash(gettext("The story is open. Its first update is yours to write."), "ok")
    return redirect(url_for(".desk", slug=story.slug), code=303)


@bp.get("/stories/<slug>")
def desk(slug: str) -> str:
    """One story's desk: compose, the live post list, the story's settings."""
    desk_user = user()
    with runtime().db.read() as session:
        story = require_story(session, slug)
        return render_template(
            "editor/desk.html",
            locale=locale(),
            user=desk_user,
            story=story,
            updated=local_time(story.updated_at, story.timezone),
            zone_name=fixed_zone_name(story.timezone),
            clock=clock_options(locale()),
            live=story.status is StoryStatus.LIVE,
            choices=verification_choices(desk_user),
            coauthor_choices=[
                {"id": u.id, "username": u.username, "display_name": u.display_name}
                for u in active_users(session)
            ],
            messages=desk_messages(),
            snippets={code: embed_snippet(story, code) for code in ("id", "en")},
        )


def _back(slug: str) -> BaseResponse:
    return redirect(url_for(".desk", slug=slug), code=303)


def _run(slug: str, change: Any, done: str) -> BaseResponse:
    """Apply a change from a form, then go back to the desk with what happened."""
    try:
        change()
    except LiveblogError as error:
        flash(describe(error), "error")
    else:
        flash(done, "ok")
    return _back(slug)


@bp.post("/stories/<slug>/settings")
def story_settings(slug: str) -> BaseResponse:
    """Change a story's title, summary and "what we know" wording (editors)."""
    fields = ("title", "summary", "known", "unknown")
    data = {k: request.form[k] for k in fields if k in request.form}
    return _run(
        slug,
        lambda: runtime().service.update_story(user().actor, slug, data),
        gettext("The story is saved."),
    )


@bp.post("/stories/<slug>/status")
def story_status(slug: str) -> BaseResponse:
    """End coverage of a story, or reopen it (editors)."""
    status = request.form.get("status", "")
    done = (
        gettext("Coverage has ended.") if status == "ended" else gettext("Coverage is live again.")
    )
    return _run(
        slug,
        lambda: runtime().service.update_story(user().actor, slug, {"status": status}),
        done,
    )


@bp.post("/stories/<slug>/posts")
def compose(slug: str) -> BaseResponse:
    """Publish an update from the plain form (the desk without JavaScript)."""
    form = request.form
    data: dict[str, Any] = {
        "body": form.get("body", ""),
        "format": form.get("format", "html"),
        "verification": {
            "status": form.get("verification", "unverified"),
            "note": form.get("note", ""),
        },
        "key_event": form.get("key_event") == "on",
    }
    if form.get("pinned") == "on":
        data["pinned"] = True
    if form.get("resolves"):
        data["resolves"] = form["resolves"]
    data.update(headline=form.get("headline", ""), coauthors=form.getlist("coauthors"))
    if user().role is Role.CONTRIBUTOR:  # a contributor's update waits for an editor
        keep = ("body", "format", "headline", "coauthors")
        submission = {k: data[k] for k in keep if data[k] or k in ("body", "format")}
        return _run(
            slug,
            lambda: runtime().drafts.submit(user().actor, slug, submission),
            gettext("Sent to the editors for approval."),
        )
    return _run(
        slug,
        lambda: runtime().service.create_post(user().actor, slug, data),
        gettext("Published."),
    )
