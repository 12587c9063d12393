"""Bounded sanitizing: hostile bodies are refused before bleach, and output never balloons."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import Newsroom
from desk_client import Desk
from flask import Flask

from liveblog.errors import Invalid
from liveblog.markup import GROWTH_SLACK, MAX_DEPTH, MAX_GROWTH, MAX_TAGS, clean_body, scan

# The attacks of issue 9: seconds of bleach each, or a 20 KB body stored as 280 KB.
ATTACKS = {
    "nested lists": "<ul><li>" * 2500,
    "unclosed anchors": "<a>" * 6666,
    "ignored list end tags": "<ul>" + "<li><ul></li>" * 1500,
    "deep formatting": "<b>" * 1000 + "x",
    "deep quotes": "<blockquote>" * 100 + "x",
    "anchors that close each other": "<a>" * 600,
    "ampersands": "&" * 20000,
}

REAL = (
    "<h2>Banjir</h2><p>Air naik di <a href='https://example.com/a'>Kampung Melayu</a> "
    "&amp; Bidara Cina, kata <strong>BPBD</strong>.</p>"
    "<ul><li>Pintu air Manggarai siaga 1<li>Katulampa <em>siaga 2</em></ul>"
    "<blockquote><p>Kami evakuasi sejak subuh.<p>Warga diminta waspada.</blockquote>"
    "<p>Foto: <img src='https://example.com/f.jpg' alt='banjir'><br>Sumber: https://bpbd.example.org/info</p>"
)


@pytest.mark.parametrize("raw", ATTACKS.values(), ids=ATTACKS.keys())
def test_attack_bodies_are_refused_with_422(raw: str) -> None:
    with pytest.raises(Invalid) as refused:
        clean_body(raw)
    assert refused.value.status == 422
    assert refused.value.details == {"field": "body"}


def test_scan_estimates_depth_from_above() -> None:
    assert scan("<ul><li>" * 10) == (20, 20)
    assert scan("<p>a<p>b<p>c")[1] == 1
    assert scan("<ul><li>a<li>b<li><b>c</b></ul>")[1] == 3
    assert scan("<p><b>a<ul><li>b</ul>")[1] == 2  # <ul> closes the open <p>
    assert scan("<li><ul></li>" * 5)[1] == 10  # html5lib ignores </li> across a list
    assert scan("<br><img><hr><!-- c -->") == (4, 0)


def test_a_long_real_post_passes_and_keeps_its_size() -> None:
    raw = REAL * 25  # about 12 KB and 700 tags
    tags, depth = scan(raw)
    assert tags < MAX_TAGS
    assert depth < MAX_DEPTH
    body = clean_body(raw)
    assert body.count("<li>") == 50
    assert "Kampung Melayu" in body
    assert len(body) <= MAX_GROWTH * len(raw) + GROWTH_SLACK


def test_limits_sit_at_their_edges() -> None:
    clean_body("<b>" * MAX_DEPTH + "x")
    with pytest.raises(Invalid):
        clean_body("<b>" * (MAX_DEPTH + 1) + "x")
    clean_body("<br>" * MAX_TAGS)
    with pytest.raises(Invalid):
        clean_body("<br>" * (MAX_TAGS + 1))


def test_growth_past_the_factor_is_refused() -> None:
    anchors = "<a>" * 300  # shallow (each closes the last) and few tags, but 14x once cleaned
    assert scan(anchors) == (300, 1)
    with pytest.raises(Invalid, match="grows too much"):
        clean_body(anchors)


def _error(response: Any) -> dict[str, Any]:
    error: dict[str, Any] = response.get_json()["error"]
    return error


@pytest.mark.parametrize("raw", list(ATTACKS.values())[:3], ids=list(ATTACKS)[:3])
def test_api_refuses_and_changes_nothing(newsroom: Newsroom, raw: str) -> None:
    newsroom.story(slug="banjir")
    post = newsroom.post("banjir")
    before = newsroom.snapshot()
    created = newsroom.call("POST", "/api/v1/stories/banjir/posts", json={"body": raw})
    assert created.status_code == 422
    assert _error(created)["code"] == "invalid_field"
    assert _error(created)["field"] == "body"
    path = f"/api/v1/stories/banjir/posts/{post['id']}"
    edited = newsroom.call("PATCH", path, json={"version": 1, "body": raw})
    assert edited.status_code == 422
    assert newsroom.snapshot() == before


def test_desk_preview_and_save_refuse_with_a_translated_message(
    app: Flask, newsroom: Newsroom
) -> None:
    newsroom.story(slug="banjir")
    desk = Desk(app)
    assert desk.login("rina").status_code == 303
    raw = ATTACKS["nested lists"]
    preview = desk.json("POST", "/editor/preview?lang=id", {"body": raw})
    assert preview.status_code == 422
    english = desk.json("POST", "/editor/preview?lang=en", {"body": raw})
    assert _error(english)["message"] == f"The post body has more than {MAX_TAGS} tags."
    assert _error(preview)["message"] != _error(english)["message"]
    saved = desk.publish("banjir", body=ATTACKS["unclosed anchors"])
    assert saved.status_code == 422
    form = desk.form("/editor/stories/banjir/posts", {"body": raw}, follow_redirects=True)
    assert str(MAX_TAGS) in form.text
    assert newsroom.counts()["posts"] == 0
    assert desk.json("POST", "/editor/preview", {"body": REAL}).status_code == 200
