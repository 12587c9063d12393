"""Turn a story and its posts into what the reader page template shows (locale-aware).

Times are shown in the story's time zone with its abbreviation ("07.45 WIB"), formatted
by Babel for the reader's locale. The live script formats the times of posts that arrive
later with `Intl` in the same shapes, from the labels, zone abbreviations and plural
templates that `client_config` hands it: it holds no user-facing text of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any
from urllib.parse import urlencode, urlsplit
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_skeleton, format_time, get_time_format
from flask import current_app, url_for
from flask_babel import format_timedelta, get_locale, get_translations, gettext, ngettext

from ..bylines import byline
from ..i18n import LOCALES, VERIFICATION_ICONS, VERIFICATION_LABELS
from ..models import Post, Story, StoryStatus, Verification, utcnow
from ..payloads import rfc3339
from .page_meta import SITE_NAME, json_ld, share_links
from .trust import Briefing, Step, briefing, client_text, help_url, timeline

NBSP = "\u00a0"

#: The names of the languages in the switch, each in its own language.
LANGUAGE_NAMES = {"id": "Bahasa Indonesia", "en": "English"}


def now_labels() -> dict[str, str]:
    """Return the "Now disputed"-style notices shown when a post's status changes live."""
    return {
        Verification.UNVERIFIED.value: gettext("Now unverified"),
        Verification.CONFIRMED.value: gettext("Now confirmed"),
        Verification.DISPUTED.value: gettext("Now disputed"),
        Verification.FALSE.value: gettext("Now marked false"),
    }


@dataclass(frozen=True)
class Stamp:
    """One instant as the page shows it."""

    iso: str  # RFC 3339, for <time datetime> and the script
    short: str  # "07.45 WIB", or "12 Agu, 23.50 WIB" when not on the story's current day
    full: str  # "13 Agu 2024, 07.45 WIB"


@dataclass(frozen=True)
class Clock:
    """Formats instants in the story's zone for one locale, relative to the story's day."""

    tz: ZoneInfo
    locale: str
    day: date  # the local day of the newest post: its posts show the time alone

    def stamp(self, value: datetime) -> Stamp:
        """Return the display forms of one instant."""
        local = value.astimezone(self.tz)
        time = format_time(local, "short", tzinfo=self.tz, locale=self.locale)
        # One unbreakable unit, "8:27 AM WIB", written the same way by the script.
        clock = NBSP.join([*time.split(), local.tzname() or ""]).strip(NBSP)
        full = f"{self._date('yMMMd', local)}, {clock}"
        if local.date() == self.day:
            short = clock
        elif local.year == self.day.year:
            short = f"{self._date('MMMd', local)}, {clock}"
        else:
            short = full
        return Stamp(iso=rfc3339(value) or "", short=short, full=full)

    def _date(self, skeleton: str, local: datetime) -> str:
        return str(format_skeleton(skeleton, local, tzinfo=self.tz, locale=self.locale))


@dataclass(frozen=True)
class PostView:
    """One post as the page shows it."""

    post: Post
    published: Stamp
    relative: str
    label: str
    icon: str
    edited: Stamp | None
    corrections: list[tuple[str, Stamp]]
    history: list[Step]
    followup: tuple[str, Stamp] | None  # the newest later post that resolves this one
    byline: str = ""  # the author and co-authors, joined as the locale joins a list


def post_view(post: Post, clock: Clock, now: datetime) -> PostView:
    """Return the display form of one post."""
    return PostView(
        post=post,
        published=clock.stamp(post.published_at),
        relative=format_timedelta(post.published_at - now, add_direction=True),
        label=str(VERIFICATION_LABELS[post.verification]),
        icon=VERIFICATION_ICONS[post.verification],
        edited=clock.stamp(post.body_edited_at) if post.body_edited_at else None,
        corrections=[(c.note, clock.stamp(c.at)) for c in post.corrections],
        history=timeline(post, clock.stamp),
        followup=(
            (post.followups[-1].id, clock.stamp(post.followups[-1].published_at))
            if post.followups
            else None
        ),
        byline=byline(post, clock.locale),
    )


@lru_cache(maxsize=256)
def zone_abbreviations(zone: str, around: date) -> dict[str, str]:
    """Return {UTC offset in minutes: abbreviation} for a zone over the years around a day.

    Browsers name some zones only by offset ("GMT+7" for Asia/Jakarta in English), so the
    script maps the offset it computes to the name the server uses ("WIB").
    """
    tz = ZoneInfo(zone)
    start = datetime(around.year - 1, 1, 1, 12, tzinfo=ZoneInfo("UTC"))
    names: dict[str, str] = {}
    for days in range(0, 3 * 366, 3):
        local = (start + timedelta(days=days)).astimezone(tz)
        offset = local.utcoffset()
        if offset is not None:
            names.setdefault(str(int(offset.total_seconds() // 60)), local.tzname() or "")
    return names


def plural_templates(singular: str, plural: str) -> dict[str, str]:
    """Return the message's unformatted forms keyed by CLDR plural category ("one", "other").

    The script picks one with `Intl.PluralRules(locale)`; the category of each form comes
    from sample numbers, so the catalog's own plural rule decides the text.
    """
    translations = get_translations()
    locale = Locale.parse(str(get_locale()))
    forms: dict[str, str] = {}
    for n in (*range(30), 100, 101, 1000, 1001):
        forms.setdefault(locale.plural_form(n), translations.ngettext(singular, plural, n))
    return forms


def clock_options(locale: str) -> dict[str, Any]:
    """Return the Intl.DateTimeFormat options that write times as Babel's short pattern does.

    Babel writes "07.45" for Indonesian and "7:45 AM" for English; Intl needs to be told
    whether the hour has two digits and which clock it uses to write the same.
    """
    pattern = get_time_format("short", locale=locale).pattern
    hour = "".join(c for c in pattern if c in "hHkK")
    return {
        "hour": "2-digit" if len(hour) >= 2 else "numeric",
        "minute": "2-digit",
        "hour12": hour[:1] in ("h", "K"),
    }


def client_config(story: Story, clock: Clock) -> dict[str, Any]:
    """Return what live.js needs: paths, the zone, and every label in the reader's language."""
    # Marked for extraction here; formatted by the script with its own count.
    ngettext("%(num)d new update", "%(num)d new updates", 1)
    return {
        "slug": story.slug,
        "locale": clock.locale,
        "contentLanguage": story.language,
        "timezone": story.timezone,
        "zoneNames": zone_abbreviations(story.timezone, clock.day),
        "clock": clock_options(clock.locale),
        "day": clock.day.isoformat(),
        # A WebSocket rule builds ws:// URLs; the script picks ws: or wss: from the page.
        "livePath": urlsplit(url_for("live.live", slug=story.slug)).path,
        "eventsPath": url_for("api.events", slug=story.slug),
        "pollSeconds": current_app.config["LIVEBLOG_EVENTS_MAX_AGE"],
        "postsPath": f"{url_for('reader.story', slug=story.slug)}/posts/",
        "briefingPath": url_for("trust.briefing_json", slug=story.slug),
        "siteName": SITE_NAME,
        "text": {
            "verification": {v.value: str(label) for v, label in VERIFICATION_LABELS.items()},
            "icons": {v.value: icon for v, icon in VERIFICATION_ICONS.items()},
            "now": now_labels(),
            "edited": gettext("Edited %(time)s"),
            "correction": gettext("Correction"),
            "pinned": gettext("Pinned"),
            "keyEvent": gettext("Key event"),
            "permalink": gettext("Permalink"),
            "newUpdates": plural_templates("%(num)d new update", "%(num)d new updates"),
            "newUpdate": gettext("New update: %(text)s"),
            "live": gettext("Live"),
            "ended": gettext("Ended"),
            "bannerLive": gettext("Developing story: check back for updates."),
            "bannerEnded": gettext("Coverage of this story has ended."),
            "reconnecting": gettext("Connection lost. Reconnecting…"),
            "polling": gettext("New updates arrive every few seconds."),
            "noKeyEvents": gettext("No key events yet."),
            "loadOlder": gettext("Load older updates"),
            "loadingOlder": gettext("Loading older updates…"),
            "olderFailed": gettext("Older updates could not be loaded. Try again."),
            "trust": client_text(clock.locale),
        },
    }


@dataclass(frozen=True)
class Slice:
    """Which posts a page shows: the first page (no cursor) or those beyond a cursor.

    Newest first, a page holds the posts created before its cursor; oldest first, after it.
    """

    pinned: list[Post]
    posts: list[Post]
    cursor: int | None = None  # this page's cursor
    next_cursor: int | None = None  # the next page's cursor, if there is one
    oldest_first: bool = False

    def args(self, cursor: int | None) -> dict[str, Any]:
        """Return the query arguments of the page at a cursor in this order."""
        order = {"order": "oldest"} if self.oldest_first else {}
        if cursor is None:
            return order
        return {**order, ("after" if self.oldest_first else "before"): cursor}


def day_breaks(
    posts: list[Post], clock: Clock, *, oldest_first: bool = False
) -> dict[str, tuple[str, str]]:
    """Return {post id: (ISO day, label)} for the first post of each day in the list.

    Newest first, today's posts (on top) need no heading; oldest first, every day has one.
    """
    breaks: dict[str, tuple[str, str]] = {}
    previous = None if oldest_first else clock.day
    for post in posts:
        day = post.published_at.astimezone(clock.tz).date()
        if day != previous:
            label = format_date(day, "full", locale=clock.locale)
            breaks[post.id] = (day.isoformat(), label)
            previous = day
    return breaks


def story_clock(story: Story, locale: str) -> Clock:
    """Return the story's clock for a locale: times alone for today in the story's zone."""
    tz = ZoneInfo(story.timezone)
    return Clock(tz=tz, locale=locale, day=utcnow().astimezone(tz).date())


def page_context(
    story: Story, page: Slice, locale: str, box: Briefing, lang: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Return everything the reader template needs for one page of the story.

    `box` is the story-wide "what we know" box (`trust.load_briefing`), not this page's.
    """
    lang = lang or {}
    now = utcnow()
    shown = [*page.pinned, *page.posts]
    clock = story_clock(story, locale)
    cursor = page.args(page.cursor)
    url = url_for("reader.story", slug=story.slug, **cursor, _external=True)
    # The last change readers can see in a post (the story row also moves on deletions).
    latest = max((p.updated_at for p in shown), default=story.created_at)
    live = story.status is StoryStatus.LIVE
    further = (
        url_for("reader.story", slug=story.slug, **page.args(page.next_cursor), **lang)
        if page.next_cursor
        else None
    )
    other_order: dict[str, Any] = {} if page.oldest_first else {"order": "oldest"}
    return {
        "story": story,
        "locale": locale,
        # What the newsroom wrote is in the story's language, whatever the interface's.
        "content_lang": story.language,
        "pinned": [post_view(p, clock, now) for p in page.pinned],
        "posts": [post_view(p, clock, now) for p in page.posts],
        "day_breaks": day_breaks(page.posts, clock, oldest_first=page.oldest_first),
        "paged": page.cursor is not None or page.oldest_first,
        "before": None if page.oldest_first else page.cursor,
        "oldest_first": page.oldest_first,
        "next_url": further,
        "latest_url": url_for("reader.story", slug=story.slug, **lang),
        "order_url": url_for("reader.story", slug=story.slug, **other_order, **lang),
        "lang_args": lang,
        "has_key_events": any(p.key_event for p in shown),
        "last_update": clock.stamp(latest),
        "last_update_relative": format_timedelta(latest - now, add_direction=True),
        "json_ld": json_ld(story, shown, url),
        "client_config": {
            **client_config(story, clock),
            "linkQuery": f"?{urlencode(lang)}" if lang else "",
        },
        "canonical": url,
        "alternates": {
            code: url_for("reader.story", slug=story.slug, **cursor, lang=code, _external=True)
            for code in LOCALES
        },
        "live": live,
        "banner": gettext("Developing story: check back for updates.")
        if live
        else gettext("Coverage of this story has ended."),
        "site_name": SITE_NAME,
        "share": share_links(url, story.title),
        "briefing": briefing(story, box, lang),
        "help_url": help_url(locale),
    }
