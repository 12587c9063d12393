"""Locale choice and the translated labels shared by pages, feeds and scripts."""

from __future__ import annotations

from flask import g, request
from flask_babel import LazyString, lazy_gettext

from .models import Verification

LOCALES = ("id", "en")
LOCALE_COOKIE = "lang"

VERIFICATION_LABELS: dict[Verification, LazyString] = {
    Verification.UNVERIFIED: lazy_gettext("Unverified claim"),
    Verification.CONFIRMED: lazy_gettext("Claim confirmed"),
    Verification.DISPUTED: lazy_gettext("Claim disputed"),
    Verification.FALSE: lazy_gettext("Claim false"),
}

#: Text glyphs shown before each verification label, so the status never relies on colour.
VERIFICATION_ICONS: dict[Verification, str] = {
    Verification.UNVERIFIED: "?",
    Verification.CONFIRMED: "✓",
    Verification.DISPUTED: "!",
    Verification.FALSE: "✗",
}


def select_locale() -> str:
    """Pick the locale: ?lang=, then the cookie, then Accept-Language, then the story's."""
    asked = request.args.get("lang")
    if asked in LOCALES:
        return asked
    cookie = request.cookies.get(LOCALE_COOKIE)
    if cookie in LOCALES:
        return cookie
    header = request.accept_languages.best_match(LOCALES)
    if header:
        return header
    story_language = g.get("story_language")
    return story_language if story_language in LOCALES else "en"
