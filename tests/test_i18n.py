"""The Indonesian and English catalogs: complete, placeholder-safe, compiled and chosen right.

The catalogs are checked against a fresh extraction of the source made here, not against the
committed messages.pot, so a string added without `scripts/i18n extract` fails the suite.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import flask_babel
import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from conftest import Newsroom
from flask import Flask

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "translations"
LANGUAGES = ("id", "en")

# The same markers `scripts/i18n extract` passes to pybabel (-k N_ -k lazy_gettext -k _l),
# on top of Babel's defaults (_, gettext, ngettext, pgettext, ...).
KEYWORDS: dict[str, Any] = {**DEFAULT_KEYWORDS, "N_": None, "lazy_gettext": None, "_l": None}

# A printf-style conversion as Python's % operator reads it: %% or %(name)<flags><conv>.
PLACEHOLDER = re.compile(r"%(?:%|\((?P<name>[^)]*)\)[-#0 +]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa])")

MsgKey = tuple[str, str | None]  # (singular msgid, context)


def po_path(lang: str) -> Path:
    return TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po"


def load_po(lang: str) -> Catalog:
    with po_path(lang).open("rb") as fileobj:
        return read_po(fileobj, locale=lang)


def extracted_messages() -> dict[MsgKey, str | tuple[str, ...]]:
    """Extract every marked message from the repository now, as babel.cfg maps it."""
    with (ROOT / "babel.cfg").open(encoding="utf-8") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg, filename="babel.cfg")
    found: dict[MsgKey, str | tuple[str, ...]] = {}
    for _filename, _lineno, message, _comments, context in extract_from_dir(
        ROOT, method_map, options_map, keywords=KEYWORDS
    ):
        singular = message[0] if isinstance(message, tuple) else message
        found[(singular, context)] = message
    return found


def forms(string: str | tuple[str, ...] | list[str] | None) -> list[str]:
    """Return a translation's forms (one for a plain message, nplurals for a plural one)."""
    if string is None:
        return []
    if isinstance(string, str):
        return [string]
    return list(string)


def translated_messages(catalog: Catalog) -> Iterator[Any]:
    """Yield the catalog's real messages (not the header), skipping untranslated ones."""
    for message in catalog:
        if message.id and any(forms(message.string)):
            yield message


def placeholders(text: str) -> set[str]:
    """Return the %(name)x placeholders of a message, conversion included (%% excluded)."""
    return {m.group(0) for m in PLACEHOLDER.finditer(text) if m.group("name") is not None}


def test_extraction_finds_the_known_markers() -> None:
    # Guard the completeness test itself: each kind of marker must really be extracted.
    found = extracted_messages()
    for msgid in (
        "Unverified claim",  # lazy_gettext in liveblog/i18n.py
        "The request body is not valid JSON.",  # N_ in domain code
        "Developing story: check back for updates.",  # gettext in a view
        "Pinned",  # _() in a Jinja template
    ):
        assert (msgid, None) in found, msgid


def test_catalogs_complete() -> None:
    extracted = extracted_messages()
    assert extracted, "Babel extracted no messages: check babel.cfg"
    problems: dict[str, list[str]] = {}
    for lang in LANGUAGES:
        catalog = load_po(lang)
        missing: list[str] = []
        for (singular, context), message in sorted(
            extracted.items(), key=lambda item: (item[0][0], item[0][1] or "")
        ):
            entry = catalog.get(singular, context)
            label = repr(message) + (f" (context {context!r})" if context else "")
            if entry is None:
                missing.append(f"{label}: not in the catalog")
            elif entry.fuzzy:
                missing.append(f"{label}: marked fuzzy")
            elif isinstance(message, tuple) != isinstance(entry.id, tuple):
                missing.append(f"{label}: plural in one place, singular in the other")
            elif isinstance(message, tuple) and len(forms(entry.string)) != catalog.num_plurals:
                missing.append(
                    f"{label}: {len(forms(entry.string))} plural forms, "
                    f"the header says {catalog.num_plurals}"
                )
            elif not all(form.strip() for form in forms(entry.string)) or not forms(entry.string):
                missing.append(f"{label}: empty translation")
        if missing:
            problems[lang] = missing
    report = "\n".join(
        f"[{lang}] {len(items)} untranslated message(s):\n  " + "\n  ".join(items)
        for lang, items in problems.items()
    )
    assert not problems, (
        "Catalogs are incomplete; run `scripts/i18n extract`, translate, then "
        f"`scripts/i18n compile`.\n{report}"
    )


@pytest.mark.parametrize("lang", LANGUAGES)
def test_catalog_headers(lang: str) -> None:
    catalog = load_po(lang)
    assert str(catalog.locale) == lang
    assert catalog.charset.lower() == "utf-8"
    headers = dict(catalog.mime_headers)
    assert headers["Language"] == lang
    assert "charset=utf-8" in headers["Content-Type"].lower()
    if lang == "id":
        # Indonesian has a single form: "1 pembaruan", "3 pembaruan".
        assert (catalog.num_plurals, catalog.plural_expr) == (1, "0")
    else:
        assert (catalog.num_plurals, catalog.plural_expr) == (2, "(n != 1)")
    assert not catalog.fuzzy, "the catalog header is marked fuzzy"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_placeholders_match(lang: str) -> None:
    bad: list[str] = []
    for message in translated_messages(load_po(lang)):
        ids = [message.id] if isinstance(message.id, str) else list(message.id)
        expected = set().union(*(placeholders(msgid) for msgid in ids))
        sample = dict.fromkeys((m[2:].split(")")[0] for m in expected), 1)
        for form in forms(message.string):
            if placeholders(form) != expected:
                bad.append(
                    f"{message.id!r}: {sorted(placeholders(form))} in {form!r}, "
                    f"expected {sorted(expected)}"
                )
                continue
            # The app always formats with its params (Invalid passes field=...), so a stray
            # "%" in a translation would break the answer: it must format cleanly.
            try:
                form % sample
            except (ValueError, TypeError, KeyError) as exc:
                bad.append(f"{message.id!r}: {form!r} does not format: {exc}")
    assert not bad, f"[{lang}] placeholder mismatches:\n  " + "\n  ".join(bad)


def test_mo_compiled_and_loaded(app: Flask) -> None:
    # scripts/install (and CI) run `scripts/i18n compile`; a stale .mo is as bad as none.
    for lang in LANGUAGES:
        mo = po_path(lang).with_suffix(".mo")
        assert mo.is_file(), f"{mo} is missing: run `scripts/i18n compile`"
        with mo.open("rb") as fileobj:
            compiled = read_mo(fileobj)
        stale = [
            message.id
            for message in translated_messages(load_po(lang))
            if message.id not in compiled
            or forms(compiled[message.id].string) != forms(message.string)
        ]
        assert not stale, f"{mo} is older than its .po; recompile. Differing: {stale}"

    id_text = load_po("id")["Unverified claim"].string
    assert id_text
    assert id_text != "Unverified claim"
    for lang, expected in (("id", id_text), ("en", "Unverified claim")):
        with app.test_request_context(f"/?lang={lang}"):
            assert str(flask_babel.get_locale()) == lang
            assert flask_babel.gettext("Unverified claim") == expected
            # The text comes from the compiled catalog, not from the msgid fallback.
            files = [Path(f) for f in flask_babel.get_translations().files]
            assert TRANSLATIONS / lang / "LC_MESSAGES" / "messages.mo" in files


def html_lang(body: str) -> str:
    match = re.search(r'<html lang="([^"]*)"', body)
    assert match, "no <html lang=...> on the page"
    return match.group(1)


def test_reader_page_language(app: Flask, newsroom: Newsroom) -> None:
    story = newsroom.story()  # language "id"
    slug = story["slug"]
    newsroom.post(slug)  # unverified by default
    url = f"/stories/{slug}"
    unverified_id = load_po("id")["Unverified claim"].string

    # No ?lang=, cookie or Accept-Language: the story's own language.
    r = app.test_client().get(url)
    assert r.status_code == 200
    assert html_lang(r.text) == "id"
    assert unverified_id in r.text

    # ?lang=en wins and is remembered in a cookie.
    reader = app.test_client()
    r = reader.get(url, query_string={"lang": "en"})
    assert r.status_code == 200
    assert html_lang(r.text) == "en"
    assert ">Unverified claim<" in r.text
    assert unverified_id not in r.text
    cookie = reader.get_cookie("lang", domain=app.config["SERVER_NAME"])
    assert cookie is not None
    assert cookie.value == "en"

    # The cookie alone makes a plain request English, even against the story's language.
    r = reader.get(url)
    assert html_lang(r.text) == "en"
    assert ">Unverified claim<" in r.text

    # The cookie beats Accept-Language.
    r = reader.get(url, headers={"Accept-Language": "id-ID,id;q=0.9"})
    assert html_lang(r.text) == "en"

    # Accept-Language without a cookie beats the story's language.
    r = app.test_client().get(url, headers={"Accept-Language": "en-US,en;q=0.9"})
    assert html_lang(r.text) == "en"
    assert ">Unverified claim<" in r.text

    # ?lang= beats Accept-Language (and the cookie it replaces).
    r = reader.get(url, query_string={"lang": "id"}, headers={"Accept-Language": "en-US,en;q=0.9"})
    assert html_lang(r.text) == "id"
    assert unverified_id in r.text
    cookie = reader.get_cookie("lang", domain=app.config["SERVER_NAME"])
    assert cookie is not None
    assert cookie.value == "id"
