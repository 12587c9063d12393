"""The desk speaks the reader's language everywhere (issue 12's desk fixes).

desk.js and desk-posts.js show only words from `desk_messages()`; each of those must be
translated in both catalogs, and no English literal may hide in the scripts.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import Newsroom
from desk_client import Desk
from flask import Flask
from test_i18n import load_po

from liveblog.demo_story import DEMO_AUTHORS
from liveblog.models import Verification
from liveblog.views.desk_text import desk_messages
from liveblog.views.editor import local_time

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = [ROOT / "static" / "desk.js", ROOT / "static" / "desk-posts.js"]
#: Every name a revision's `changes` can hold (service.py), shown in the desk's history.
REVISION_CHANGES = (
    "created", "body", "verification", "pinned", "key_event", "corrections", "resolves",
    "deleted", "purged",
)  # fmt: skip
TOOLBAR_ACTIONS = ("bold", "italic", "link", "quote", "list")


def messages(app: Flask, lang: str) -> dict[str, str]:
    with app.test_request_context(f"/editor?lang={lang}"):
        return desk_messages()


def test_every_word_the_scripts_use_is_in_desk_messages(app: Flask) -> None:
    keys = set(messages(app, "en"))
    used: set[str] = set()
    for script in SCRIPTS:
        used |= set(re.findall(r"\bM\.(\w+)", script.read_text()))
    used |= {f"change_{name}" for name in REVISION_CHANGES}
    used |= {f"status_{status.value}" for status in Verification}
    used |= {f"sample_{action}" for action in TOOLBAR_ACTIONS}
    assert used - keys == set()


def test_the_scripts_hold_no_english_literals() -> None:
    literal = re.compile(r"""(?:\btext:\s*|textContent\s*=\s*)(["'])[A-Za-z][^"']*\1""")
    for script in SCRIPTS:
        found = literal.findall(script.read_text())
        assert not found, f"{script.name} shows a literal instead of a desk_messages() word"


@pytest.mark.parametrize("lang", ["id", "en"])
def test_every_desk_message_is_translated(app: Flask, lang: str) -> None:
    catalog = load_po(lang)
    english = messages(app, "en")
    missing = []
    for key, source in english.items():
        entry = catalog.get(source)
        if entry is None or entry.fuzzy or not entry.string:
            missing.append(f"{key}: {source!r}")
    assert missing == [], f"[{lang}] desk words missing from the catalog: {missing}"


def test_history_labels_in_indonesian(app: Flask) -> None:
    words = messages(app, "id")
    assert [words[f"change_{c}"] for c in ("created", "body", "verification", "pinned")] == [
        "dibuat",
        "teks",
        "verifikasi",
        "disematkan",
    ]


def test_a_wrong_password_answers_in_the_language_asked(app: Flask, newsroom: Newsroom) -> None:
    desk = Desk(app)
    page = desk.client.get("/editor/login?lang=id")
    assert 'action="/editor/login?lang=id"' in page.text
    desk.refresh_token("/editor/login?lang=id")
    answer = desk.client.post(
        "/editor/login?lang=id",
        data={"username": "bagus", "password": "salah", "csrf_token": desk.token},
    )
    assert answer.status_code == 401
    assert "Nama pengguna atau kata sandi salah." in answer.text, answer.text
    assert '<html lang="id">' in answer.text
    assert 'action="/editor/login?lang=id"' in answer.text


def test_desk_times_are_written_as_the_reader_writes_them(app: Flask) -> None:
    at = datetime(2026, 12, 6, 1, 30, tzinfo=UTC)
    with app.test_request_context("/editor?lang=id"):
        assert local_time(at, "Asia/Jakarta") == "6 Des 2026, 08.30 WIB"
    with app.test_request_context("/editor?lang=en"):
        assert local_time(at, "Asia/Jakarta") == "Dec 6, 2026, 8:30\u202fAM WIB"


def test_the_readme_example_user_is_not_a_demo_user() -> None:
    readme = (ROOT / "README.md").read_text()
    names = re.findall(r"create-user (\w+)", readme)
    assert names
    assert not set(names) & set(DEMO_AUTHORS)
