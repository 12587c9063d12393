"""What readers see of the checks (issue 10 items 3-6), without JavaScript, on SQLite and
PostgreSQL: timelines on the page, in the feed and JSON-LD; follow-ups; "what we know";
the wording of badges, the page that explains them, and feed status lines."""

from __future__ import annotations

import html as htmllib
import json
import re
from typing import Any

import pytest
from conftest import Newsroom, rt
from desk_client import Desk
from flask import Flask

LABELS = {
    "en": {
        "unverified": "Unverified claim",
        "confirmed": "Claim confirmed",
        "disputed": "Claim disputed",
        "false": "Claim false",
    },
    "id": {
        "unverified": "Klaim belum terverifikasi",
        "confirmed": "Klaim terkonfirmasi",
        "disputed": "Klaim diperdebatkan",
        "false": "Klaim keliru",
    },
}


@pytest.fixture
def room(any_app: Flask) -> Newsroom:
    """Editor rina, reporters bagus and dewi, admin ada, on either database."""
    return Newsroom(any_app)


def page(room: Newsroom, slug: str, lang: str = "en") -> str:
    r = room.client.get(f"/stories/{slug}?lang={lang}")
    assert r.status_code == 200
    return r.get_data(as_text=True)


def article(html: str, post_id: str) -> str:
    """Return one post's <article> markup."""
    match = re.search(rf'<article[^>]*id="post-{post_id}".*?</article>', html, re.S)
    assert match, post_id
    return match.group(0)


def text(markup: str) -> str:
    return re.sub(r"\s+", " ", htmllib.unescape(re.sub(r"<[^>]+>", " ", markup))).strip()


def feed(room: Newsroom, slug: str) -> dict[str, Any]:
    doc: dict[str, Any] = room.client.get(f"/stories/{slug}/feed.json").get_json()
    return doc


def json_ld(html: str) -> dict[str, Any]:
    match = re.search(r'<script type="application/ld\+json">(.*?)</script>', html, re.S)
    assert match
    data: dict[str, Any] = json.loads(match.group(1))
    return data


def patch(room: Newsroom, slug: str, post: dict[str, Any], who: str = "rina", **kw: Any) -> Any:
    r = room.call(
        "PATCH",
        f"/api/v1/stories/{slug}/posts/{post['id']}",
        who,
        json={"version": post["version"], **kw},
    )
    assert r.status_code == 200, r.get_json()
    return r.get_json()


# -- 3. the verification timeline --------------------------------------------------------


def judged(room: Newsroom) -> tuple[str, dict[str, Any]]:
    slug = room.story()["slug"]
    post = room.post(slug, "bagus", body="<p>Jembatan ambruk.</p>")
    post = patch(room, slug, post, verification={"status": "disputed", "note": "Warga ragu"})
    post = patch(room, slug, post, verification={"status": "confirmed", "note": "Foto BPBD"})
    return slug, post


def test_timeline_on_the_page_without_javascript(room: Newsroom) -> None:
    slug, post = judged(room)
    for lang, labels in LABELS.items():
        node = article(page(room, slug, lang), post["id"])
        details = re.search(r"<details class=\"verification\">.*?</details>", node, re.S)
        assert details, node
        steps = re.findall(r'<li class="history-step history-(\w+)">(.*?)</li>', node, re.S)
        assert [status for status, _ in steps] == ["unverified", "disputed", "confirmed"]
        times = [re.search(r'<time datetime="([^"]+)"', li).group(1) for _, li in steps]  # type: ignore[union-attr]
        assert times == [e["at"] for e in post["verification_history"]]
        assert labels["disputed"] in text(steps[1][1])
        assert "Warga ragu" in text(steps[1][1])
        assert re.search(r"\d\d?[.:]\d\d", text(steps[2][1]))  # a clock time
        assert "WIB" in text(steps[2][1])
        summary = re.search(r"<summary>(.*?)</summary>", node, re.S)
        assert summary
        assert text(summary.group(1)) == f"✓ {labels['confirmed']} Foto BPBD"


def test_text_change_is_explained_in_the_timeline(room: Newsroom) -> None:
    slug, post = judged(room)
    patch(room, slug, post, "bagus", body="<p>Jembatan ambruk total.</p>")
    node = article(page(room, slug, "en"), post["id"])
    assert "(the text changed after the check)" in text(node)
    node = article(page(room, slug, "id"), post["id"])
    assert "(teks diubah setelah diperiksa)" in text(node)


def test_timeline_in_the_feed_and_json_ld(room: Newsroom) -> None:
    slug, post = judged(room)
    [item] = feed(room, slug)["items"]
    assert item["_liveblog"]["verification_history"] == post["verification_history"]
    assert item["_liveblog"]["verified_by_editor"] is True
    [update] = json_ld(page(room, slug, "en"))["liveBlogUpdate"]
    reviews = update["review"]
    assert [r["@type"] for r in reviews] == ["ClaimReview"] * 3
    assert [r["datePublished"] for r in reviews] == [e["at"] for e in post["verification_history"]]
    assert [r["additionalType"] for r in reviews] == ["unverified", "disputed", "confirmed"]
    assert reviews[2]["reviewBody"] == "Foto BPBD"
    assert reviews[2]["reviewRating"]["alternateName"] == "Claim confirmed"


# -- 6. wording, the explainer, feed status lines ---------------------------------------


def test_badges_name_what_they_judge_and_link_to_the_explainer(room: Newsroom) -> None:
    slug = room.story()["slug"]
    posts = {
        status: room.post(slug, body=f"<p>{status}</p>", verification={"status": status})
        for status in LABELS["en"]
    }
    for lang, labels in LABELS.items():
        html = page(room, slug, lang)
        for status, post in posts.items():
            node = article(html, post["id"])
            assert f'<span class="badge-text">{labels[status]}</span>' in node
            link = re.search(r'<a class="verification-help" href="([^"]+)">([^<]+)</a>', node)
            assert link
            assert link.group(1) == f"/verification?lang={lang}"
            explainer = room.client.get(link.group(1))
            assert explainer.status_code == 200
            assert f'<html lang="{lang}">' in explainer.text
            for label in labels.values():
                assert label in explainer.text
            assert explainer.headers["Cache-Control"] == "public, max-age=300"


def test_explainer_in_both_languages(room: Newsroom) -> None:
    en = room.client.get("/verification?lang=en").get_data(as_text=True)
    assert "How we label what we report" in en
    id_ = room.client.get("/verification?lang=id").get_data(as_text=True)
    assert "Cara kami melabeli yang kami laporkan" in id_
    bare = room.client.get("/verification", headers={"Accept-Language": "id"})
    assert "Cara kami melabeli" in bare.get_data(as_text=True)
    assert bare.headers["Cache-Control"] == "private, no-cache"


def test_feed_items_carry_a_visible_status_line(room: Newsroom) -> None:
    slug = room.story(language="en")["slug"]
    for status in LABELS["en"]:
        room.post(
            slug, body=f"<p>{status} body</p>", verification={"status": status, "note": "<n>"}
        )
    items = {i["_liveblog"]["verification"]["status"]: i for i in feed(room, slug)["items"]}
    assert items["unverified"]["content_html"] == "<p>unverified body</p>"
    for status, icon in (("confirmed", "✓"), ("disputed", "!"), ("false", "✗")):
        assert items[status]["content_html"] == (
            f'<p class="liveblog-status liveblog-status-{status}"><strong>{icon} '
            f"{LABELS['en'][status]}</strong> — &lt;n&gt;</p><p>{status} body</p>"
        )
    # In the story's language, whoever asks.
    slug_id = room.story()["slug"]
    room.post(slug_id, body="<p>x</p>", verification={"status": "false"})
    [item] = feed(room, slug_id)["items"]
    assert item["content_html"].startswith(
        '<p class="liveblog-status liveblog-status-false"><strong>✗ Klaim keliru</strong></p>'
    )


# -- 5. follow-ups -------------------------------------------------------------------------


def test_follow_up_links_both_ways_with_the_outcome(room: Newsroom) -> None:
    slug = room.story()["slug"]
    claim = room.post(slug, "bagus", body="<p>Kabarnya 40 korban.</p>")
    followup = room.post(slug, "rina", body="<p>Polisi: 4 korban.</p>", resolves=claim["id"])
    assert followup["resolves"] == claim["id"]
    [event] = room.client.get(f"/api/v1/stories/{slug}/events?after=1").get_json()["events"]
    assert event["post"]["resolves"] == claim["id"]
    claim = patch(room, slug, claim, verification={"status": "false", "note": "Polisi"})
    assert claim["followups"] == [{"id": followup["id"], "published_at": followup["published_at"]}]
    for lang, outcome, see in (
        ("en", "Outcome: Claim false", "See the follow-up at"),
        ("id", "Hasil: Klaim keliru", "Lihat tindak lanjut pukul"),
    ):
        html = page(room, slug, lang)
        node = article(html, claim["id"])
        line = re.search(r'<p class="followup followup-false">(.*?)</p>', node, re.S)
        assert line, node
        assert text(line.group(1)).startswith(f"{outcome} {see}")
        # Follow-ups link by permalink (contract section 6): the post may be on another page.
        assert f'href="/stories/{slug}/posts/{followup["id"]}?lang={lang}"' in line.group(1)
        back = article(html, followup["id"])
        assert f'data-resolves="{claim["id"]}"' in back
        permalink = f"/stories/{slug}/posts/{claim['id']}?lang={lang}"
        assert f'<p class="follows-up"><a href="{permalink}">' in back
        assert room.client.get(permalink).status_code == 200
    items = {i["id"]: i["_liveblog"] for i in feed(room, slug)["items"]}
    assert items[followup["id"]]["resolves"] == claim["id"]
    assert items[claim["id"]]["followups"][0]["id"] == followup["id"]


def test_unsettled_claim_links_without_an_outcome(room: Newsroom) -> None:
    slug = room.story()["slug"]
    claim = room.post(slug, "bagus", body="<p>Kabarnya.</p>")
    room.post(slug, "dewi", body="<p>Belum jelas.</p>", resolves=claim["id"])
    node = article(page(room, slug), claim["id"])
    assert '<p class="followup followup-unverified">' in node
    assert "Outcome" not in node


def test_follow_ups_can_be_set_and_cleared(room: Newsroom) -> None:
    slug = room.story()["slug"]
    claim = room.post(slug, "bagus", body="<p>A</p>")
    later = room.post(slug, "bagus", body="<p>B</p>")
    later = patch(room, slug, later, "bagus", resolves=claim["id"])
    assert later["resolves"] == claim["id"]
    log = room.client.get(f"/api/v1/stories/{slug}/events?after=2").get_json()["events"]
    assert log[0]["changes"] == ["resolves"]
    later = patch(room, slug, later, "bagus", resolves=None)
    assert later["resolves"] is None
    assert "followup" not in article(page(room, slug), claim["id"])


def test_bad_follow_ups_change_nothing(room: Newsroom) -> None:
    slug = room.story()["slug"]
    other = room.story(title="Lain")["slug"]
    foreign = room.post(other, body="<p>Lain</p>")
    first = room.post(slug, body="<p>A</p>")
    second = room.post(slug, body="<p>B</p>")
    gone = room.post(slug, body="<p>C</p>")
    assert room.call("DELETE", f"/api/v1/stories/{slug}/posts/{gone['id']}").status_code == 204
    before = room.snapshot()
    posts = f"/api/v1/stories/{slug}/posts"
    for path, body in (
        (posts, {"body": "x", "resolves": "nope"}),
        (posts, {"body": "x", "resolves": foreign["id"]}),
        (posts, {"body": "x", "resolves": gone["id"]}),
        (posts, {"body": "x", "resolves": 5}),
        (posts, {"body": "x", "resolves": ""}),
        (f"{posts}/{first['id']}", {"version": 1, "resolves": second["id"]}),  # a later post
        (f"{posts}/{first['id']}", {"version": 1, "resolves": first["id"]}),  # itself
    ):
        method = "POST" if path == posts else "PATCH"
        r = room.call(method, path, json=body)
        assert r.status_code == 422, (body, r.get_json())
        assert r.get_json()["error"]["field"] == "resolves"
    assert room.snapshot() == before


def test_deleting_either_side_unlinks(room: Newsroom) -> None:
    slug = room.story()["slug"]
    claim = room.post(slug, body="<p>A</p>")
    followup = room.post(slug, body="<p>B</p>", resolves=claim["id"])
    base = f"/api/v1/stories/{slug}/posts"
    assert room.call("DELETE", f"{base}/{followup['id']}").status_code == 204
    assert "followup" not in article(page(room, slug), claim["id"])
    second = room.post(slug, body="<p>C</p>", resolves=claim["id"])
    assert room.call("DELETE", f"{base}/{claim['id']}").status_code == 204
    node = article(page(room, slug), second["id"])
    assert "follows-up" not in node
    assert "data-resolves" not in node


# -- 4. what we know / what we don't know yet --------------------------------------------


def box(html: str) -> str:
    match = re.search(r'<section class="briefing".*?</section>', html, re.S)
    assert match
    return match.group(0)


def section(markup: str, name: str) -> str:
    match = re.search(
        rf'<div class="briefing-section briefing-{name}"[^>]*>.*?</div>', markup, re.S
    )
    assert match, name
    return match.group(0)


def test_box_is_built_from_the_statuses(room: Newsroom) -> None:
    slug = room.story()["slug"]
    assert " hidden" in box(page(room, slug)).split(">")[0]  # nothing to say yet
    posts = {
        status: room.post(slug, body=f"<p>Klaim {status}.</p>", verification={"status": status})
        for status in ("unverified", "confirmed", "disputed", "false")
    }
    for lang, headings in (
        ("en", ("What we know", "What we don't know yet", "Ruled false")),
        ("id", ("Yang kami ketahui", "Yang belum kami ketahui", "Dinyatakan keliru")),
    ):
        markup = box(page(room, slug, lang))
        assert " hidden" not in markup.split(">")[0]
        known, open_, false = (section(markup, n) for n in ("known", "open", "false"))
        for part, heading in zip((known, open_, false), headings, strict=True):
            assert text(part).startswith(heading)
        assert f'href="/stories/{slug}/posts/{posts["confirmed"]["id"]}?lang={lang}"' in known
        assert "Klaim confirmed." in known
        assert f'href="/stories/{slug}/posts/{posts["false"]["id"]}?lang={lang}"' in false
        assert "Klaim unverified." in open_
        assert "Klaim disputed." in open_
        assert LABELS[lang]["disputed"] in open_
        assert "Klaim confirmed" not in open_ + false


def test_editors_word_the_box(room: Newsroom) -> None:
    slug = room.story()["slug"]
    r = room.call("PATCH", f"/api/v1/stories/{slug}", "bagus", json={"known": "x"})
    assert r.status_code == 403
    r = room.call(
        "PATCH",
        f"/api/v1/stories/{slug}",
        json={"known": "Jembatan runtuh pukul 19.00.", "unknown": "Jumlah korban."},
    )
    assert r.status_code == 200, r.get_json()
    story = r.get_json()
    assert (story["known"], story["unknown"]) == ("Jembatan runtuh pukul 19.00.", "Jumlah korban.")
    [event] = room.client.get(f"/api/v1/stories/{slug}/events").get_json()["events"]
    assert event["changes"] == ["known", "unknown"]
    assert event["values"] == {"known": story["known"], "unknown": story["unknown"]}
    markup = box(page(room, slug))
    assert "Jembatan runtuh pukul 19.00." in section(markup, "known")
    assert "Jumlah korban." in section(markup, "open")
    # The desk's story form words it too.
    desk = Desk(room.app)
    assert desk.login("rina").status_code == 303
    r = desk.form(
        f"/editor/stories/{slug}/settings",
        {"title": "Judul", "summary": "", "known": "Baru.", "unknown": ""},
    )
    assert r.status_code == 303
    markup = box(page(room, slug))
    assert "Baru." in section(markup, "known")
    assert '<p class="briefing-text" lang="id" hidden></p>' in section(markup, "open")


def test_box_lists_at_most_five_per_section(room: Newsroom) -> None:
    slug = room.story()["slug"]
    for n in range(7):
        room.post(slug, body=f"<p>Klaim {n}.</p>", verification={"status": "confirmed"})
    known = section(box(page(room, slug)), "known")
    assert known.count("<li") == 5
    assert "and 2 more" in known
    assert "Klaim 6." in known  # newest first
    assert "Klaim 0." not in known


def test_box_folds_open_claims_and_shows_headlines(room: Newsroom) -> None:
    """Posts show their headline when they have one; still-open claims fold behind a count."""
    slug = room.story()["slug"]
    room.post(
        slug,
        body="<p>Polisi membenarkan jembatan runtuh pukul tujuh malam.</p>",
        headline="Jembatan runtuh",
        verification={"status": "confirmed"},
    )
    for n in range(12):
        room.post(slug, body=f"<p>Kabar belum pasti {n}.</p>")
    for lang, summary in (
        ("en", "12 claims not yet verified"),
        ("id", "12 klaim belum terverifikasi"),
    ):
        markup = box(page(room, slug, lang))
        known, open_ = section(markup, "known"), section(markup, "open")
        assert ">Jembatan runtuh</a>" in known
        assert "Polisi membenarkan" not in known
        assert "<details" not in known  # what is known stays open
        assert re.search(rf'<details class="briefing-fold">\s*<summary>{summary}</summary>', open_)
        assert open_.count("<li") == 5
    room.post(slug, body="<p>Satu-satunya.</p>", verification={"status": "false"})
    assert "<details" not in section(box(page(room, slug)), "false")
    lone = room.story()["slug"]
    room.post(lone, body="<p>Sendiri.</p>")
    assert "<summary>1 claim not yet verified</summary>" in box(page(room, lone))


def test_permalink_badge_opens_the_timeline_and_explains(room: Newsroom) -> None:
    slug, post = judged(room)
    r = room.client.get(f"/stories/{slug}/posts/{post['id']}?lang=id")
    if r.status_code in (301, 302, 303, 307, 308):
        r = room.client.get(r.headers["Location"])
    assert r.status_code == 200
    node = article(r.get_data(as_text=True), post["id"])
    assert node.count('<li class="history-step') == 3
    assert '<a class="verification-help" href="/verification?lang=id">' in node


def test_desk_publishes_a_follow_up(room: Newsroom) -> None:
    slug = room.story()["slug"]
    claim = room.post(slug, "bagus", body="<p>Kabarnya.</p>")
    desk = Desk(room.app)
    assert desk.login("dewi").status_code == 303
    r = desk.publish(slug, body="<p>Ternyata.</p>", resolves=claim["id"])
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["resolves"] == claim["id"]
    r = desk.publish(slug, body="<p>Salah.</p>", resolves="nope")
    assert r.status_code == 422
    assert "followup" in article(page(room, slug), claim["id"])


def test_desk_form_without_javascript_publishes_a_follow_up(room: Newsroom) -> None:
    slug = room.story()["slug"]
    claim = room.post(slug, "bagus", body="<p>Kabarnya.</p>")
    desk = Desk(room.app)
    assert desk.login("dewi").status_code == 303
    form = {"body": "<p>Ternyata.</p>", "verification": "unverified", "resolves": claim["id"]}
    assert desk.form(f"/editor/stories/{slug}/posts", form).status_code == 303
    [followup, _] = feed(room, slug)["items"]
    assert followup["_liveblog"]["resolves"] == claim["id"]
    page_html = desk.get(f"/editor/stories/{slug}?lang=en").text
    assert '<select id="resolves" name="resolves">' in page_html


def test_box_covers_the_whole_story_not_the_first_page(room: Newsroom) -> None:
    """A 65-post story: the box counts and lists posts the first page (50) does not show."""
    slug = room.story()["slug"]
    first = [
        room.post(slug, body=f"<p>Awal {n}.</p>", verification={"status": status})
        for n, status in enumerate(["confirmed"] * 3 + ["false"] * 2 + ["disputed"])
    ]
    for n in range(59):
        room.post(slug, body=f"<p>Kabar {n}.</p>")
    html = page(room, slug)
    for post in first:
        assert f'id="post-{post["id"]}"' not in html  # all on an older page
    markup = box(html)
    assert 'data-seq="65"' in markup  # the seq the counts stand at: the script goes on from it
    known, open_, false = (section(markup, n) for n in ("known", "open", "false"))
    assert 'data-count="3"' in known
    assert known.count("<li") == 3
    assert "Awal 2." in known
    assert f'href="/stories/{slug}/posts/{first[0]["id"]}?lang=en"' in known
    assert 'data-count="2"' in false
    assert "Awal 4." in false
    assert 'data-count="60"' in open_
    assert open_.count("<li") == 5
    assert "and 55 more" in open_
    # The JSON the live page fetches when an event alone cannot tell says the same.
    r = room.client.get(f"/stories/{slug}/briefing.json?seq=65")
    assert r.status_code == 200
    assert r.headers["Cache-Control"].startswith("public")
    doc = r.get_json()
    assert doc["last_seq"] == 65
    assert doc["known"]["count"] == 3
    assert [p["text"] for p in doc["false"]["posts"]] == ["Awal 4.", "Awal 3."]
    assert doc["open"]["count"] == 60
    assert len(doc["open"]["posts"]) == 5
    assert doc["open"]["posts"][0]["text"] == "Kabar 58."
    # Ruling on a post far down the story moves it between counts; a takedown removes it.
    patch(room, slug, first[5], verification={"status": "confirmed"})
    assert room.call("DELETE", f"/api/v1/stories/{slug}/posts/{first[3]['id']}").status_code == 204
    doc = room.client.get(f"/stories/{slug}/briefing.json?seq=67").get_json()
    assert (doc["known"]["count"], doc["open"]["count"], doc["false"]["count"]) == (4, 59, 1)
    assert doc["known"]["posts"][0]["text"] == "Awal 5."  # ordered by age, not by ruling
    markup = box(page(room, slug))
    assert 'data-count="4"' in section(markup, "known")
    assert "Awal 3." not in markup
    assert room.client.get("/stories/nope/briefing.json").status_code == 404


def test_box_reads_a_bounded_number_of_rows(room: Newsroom) -> None:
    """The box's SQL is a grouped count and one LIMITed query per group, whatever the length."""
    from sqlalchemy import event

    from liveblog.queries import briefing_posts, story_by_slug

    slug = room.story()["slug"]
    for n in range(60):
        room.post(slug, body=f"<p>Kabar {n}.</p>", verification={"status": "confirmed"})
    db = rt(room.app).db
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        with db.read() as session:
            story = story_by_slug(session, slug)
            assert story is not None
            statements.clear()
            groups = briefing_posts(session, story, 5)
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    assert groups["known"][0] == 60
    assert len(groups["known"][1]) == 5
    assert groups["open"] == (0, [])
    assert groups["false"] == (0, [])
    assert len(statements) == 2  # the count, then the one group that has posts
    assert "LIMIT" in statements[1].upper()


def test_box_seq_matches_its_counts_when_a_write_comes_between(
    room: Newsroom, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The seq the box hands the script is the one its counts stand at, even mid-write."""
    from liveblog.queries import story_by_slug
    from liveblog.views import trust

    slug = room.story()["slug"]
    for n in range(3):
        room.post(slug, body=f"<p>Kabar {n}.</p>")
    real = trust.briefing_posts
    calls: list[int] = []

    def crossed(session: Any, story: Any, limit: int) -> Any:
        if not calls:  # a reporter publishes while the box is being read
            room.post(slug, body="<p>Kabar sela.</p>")
        calls.append(1)
        return real(session, story, limit)

    monkeypatch.setattr(trust, "briefing_posts", crossed)
    with rt(room.app).db.read() as session:
        story = story_by_slug(session, slug)
        assert story is not None
        seq, groups = trust.load_briefing(session, story)
    assert seq == sum(count for count, _ in groups.values())  # one event per post here
