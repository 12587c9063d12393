"""Tests of the JSON Feed 1.1 and liveblog feed schemas themselves (no app needed)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import feed_schema
import pytest
from feed_schema import validate_feed, validate_jsonfeed
from jsonschema import (  # type: ignore[import-untyped]
    Draft202012Validator,
    FormatChecker,
    ValidationError,
)

Feed = dict[str, Any]

_MINIMAL_FEED: Feed = {
    "version": "https://jsonfeed.org/version/1.1",
    "title": "Storm live: latest updates",
    "home_page_url": "https://news.example/live/storm",
    "feed_url": "https://news.example/live/storm/feed.json",
    "language": "en-GB",
    "_liveblog": {"status": "live", "last_seq": 1},
    "items": [
        {
            "id": "https://news.example/live/storm#entry-1",
            "url": "https://news.example/live/storm#entry-1",
            "content_html": "<p>Roads closed north of the river.</p>",
            "date_published": "2024-08-13T07:45:00Z",
            "date_modified": "2024-08-13T07:50:00+01:00",
            "authors": [{"name": "A. Reporter"}],
            "_liveblog": {
                "seq": 1,
                "verification": {"status": "confirmed", "note": "Police statement"},
                "pinned": False,
                "key_event": True,
                "corrections": [],
            },
        }
    ],
}

# The JSON Feed 1.1 spec's own full example, plus a deprecated 1.0 "author" and extensions.
_SPEC_EXAMPLE: Feed = {
    "version": "https://jsonfeed.org/version/1.1",
    "title": "My Example Feed",
    "home_page_url": "https://example.org/",
    "feed_url": "https://example.org/feed.json",
    "description": "Optional to provide more detail beyond the title.",
    "user_comment": "Optional and should be ignored by feed readers.",
    "next_url": "https://example.org/pagination?feed=feed.json&p=17",
    "icon": "https://example.org/favicon-timeline-512x512.png",
    "favicon": "https://example.org/favicon-sourcelist-64x64.png",
    "authors": [
        {
            "name": "Optional Author",
            "url": "https://example.org/authors/optional-author",
            "avatar": "https://example.org/authors/optional-author/avatar-512x512.png",
        }
    ],
    "author": {"url": "mailto:author@example.org"},
    "language": "en-US",
    "expired": False,
    "hubs": [{"type": "WebSub", "url": "https://hub.example.org/"}],
    "_blue_shed": {"about": "https://blueshed-podcasts.com/json-feed-extension-docs"},
    "items": [
        {
            "id": "2",
            "content_text": "This is a second item.",
            "url": "https://example.org/second-item",
            "language": "es-mx",
            "tags": ["weather"],
            "attachments": [
                {
                    "url": "https://example.org/second-item/audio.ogg",
                    "mime_type": "audio/ogg",
                    "title": "Optional Title",
                    "size_in_bytes": 31415927,
                    "duration_in_seconds": 1800,
                    "_blue_shed": {"explicit": False},
                }
            ],
        },
        {
            "id": "1",
            "content_html": "<p>Hello, world!</p>",
            "url": "https://example.org/initial-post",
            "date_published": "2010-02-07T14:04:00-05:00",
        },
    ],
}


def _feed() -> Feed:
    return copy.deepcopy(_MINIMAL_FEED)


def _item(feed: Feed) -> Feed:
    item: Feed = feed["items"][0]
    return item


def _rejected(doc: Feed, validate: Callable[[Feed], None] = validate_feed) -> ValidationError:
    with pytest.raises(ValidationError) as excinfo:
        validate(doc)
    error: ValidationError = excinfo.value
    return error


def test_minimal_liveblog_feed_is_valid() -> None:
    validate_feed(_feed())


def test_spec_example_is_valid_json_feed() -> None:
    validate_jsonfeed(copy.deepcopy(_SPEC_EXAMPLE))


def test_liveblog_feed_is_also_a_plain_json_feed() -> None:
    validate_jsonfeed(_feed())


def test_missing_version() -> None:
    feed = _feed()
    del feed["version"]
    error = _rejected(feed)
    assert error.validator == "required"
    assert "'version'" in error.message


def test_wrong_version() -> None:
    feed = _feed()
    feed["version"] = "https://jsonfeed.org/version/1"
    error = _rejected(feed)
    assert error.validator == "const"
    assert list(error.absolute_path) == ["version"]


def test_item_without_id() -> None:
    feed = _feed()
    del _item(feed)["id"]
    error = _rejected(feed)
    assert error.validator == "required"
    assert "'id'" in error.message
    assert list(error.absolute_path) == ["items", 0]


@pytest.mark.parametrize("validate", [validate_feed, validate_jsonfeed])
def test_item_without_content(validate: Callable[[Feed], None]) -> None:
    feed = _feed()
    del _item(feed)["content_html"]
    error = _rejected(feed, validate)
    assert list(error.absolute_path) == ["items", 0]
    assert "content_html" in str(error)


def test_content_text_alone_satisfies_json_feed() -> None:
    feed = _feed()
    item = _item(feed)
    item["content_text"] = item.pop("content_html")
    validate_jsonfeed(feed)


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("2024-08-13 07:45", id="space-no-seconds-no-offset"),
        pytest.param("2024-08-13T00:45:00", id="no-offset"),
        pytest.param("2024-08-13", id="date-only"),
        pytest.param("2024-13-13T00:45:00Z", id="month-13"),
    ],
)
@pytest.mark.parametrize("field", ["date_published", "date_modified"])
def test_bad_item_date(field: str, value: str) -> None:
    feed = _feed()
    _item(feed)[field] = value
    error = _rejected(feed)
    assert error.validator == "format"
    assert error.validator_value == "date-time"
    assert list(error.absolute_path) == ["items", 0, field]


def test_bad_correction_date() -> None:
    feed = _feed()
    _item(feed)["_liveblog"]["corrections"] = [{"note": "Fixed name", "at": "2024-08-13T00:45"}]
    error = _rejected(feed)
    assert error.validator == "format"
    assert list(error.absolute_path) == ["items", 0, "_liveblog", "corrections", 0, "at"]


@pytest.mark.parametrize(
    "path",
    [
        pytest.param(("feed_url",), id="feed_url"),
        pytest.param(("home_page_url",), id="home_page_url"),
        pytest.param(("items", 0, "url"), id="item-url"),
        pytest.param(("items", 0, "authors", 0, "avatar"), id="author-avatar"),
    ],
)
def test_bad_url(path: tuple[str | int, ...]) -> None:
    feed = _feed()
    target: Any = feed
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = "not a url"
    error = _rejected(feed)
    assert error.validator == "format"
    assert error.validator_value == "uri"
    assert tuple(error.absolute_path) == path


def test_unknown_top_level_key() -> None:
    feed = _feed()
    feed["titel"] = "typo"
    error = _rejected(feed)
    assert error.validator == "additionalProperties"
    assert "'titel'" in error.message


def test_unknown_item_key() -> None:
    feed = _feed()
    _item(feed)["date_publish"] = "2024-08-13T07:45:00Z"
    error = _rejected(feed)
    assert error.validator == "additionalProperties"
    assert list(error.absolute_path) == ["items", 0]


def test_missing_top_level_liveblog() -> None:
    feed = _feed()
    del feed["_liveblog"]
    error = _rejected(feed)
    assert error.validator == "required"
    assert "'_liveblog'" in error.message


def test_missing_item_liveblog() -> None:
    feed = _feed()
    del _item(feed)["_liveblog"]
    error = _rejected(feed)
    assert error.validator == "required"
    assert "'_liveblog'" in error.message
    assert list(error.absolute_path) == ["items", 0]


def test_bad_verification_status() -> None:
    feed = _feed()
    _item(feed)["_liveblog"]["verification"]["status"] = "maybe"
    error = _rejected(feed)
    assert error.validator == "enum"
    assert list(error.absolute_path) == ["items", 0, "_liveblog", "verification", "status"]


def test_seq_zero() -> None:
    feed = _feed()
    _item(feed)["_liveblog"]["seq"] = 0
    error = _rejected(feed)
    assert error.validator == "minimum"
    assert list(error.absolute_path) == ["items", 0, "_liveblog", "seq"]


def test_last_seq_zero_is_allowed() -> None:
    feed = _feed()
    feed["_liveblog"] = {"status": "ended", "last_seq": 0}
    feed["items"] = []
    validate_feed(feed)


def test_item_extension_key_is_allowed() -> None:
    feed = _feed()
    _item(feed)["_custom"] = {"anything": [1, 2, 3]}
    validate_feed(feed)


@pytest.mark.parametrize(
    "key",
    [
        pytest.param("_1custom", id="underscore-not-followed-by-letter"),
        pytest.param("_cus.tom", id="dot-in-name"),
    ],
)
def test_malformed_extension_name_is_rejected(key: str) -> None:
    feed = _feed()
    _item(feed)[key] = {}
    error = _rejected(feed)
    assert error.validator == "additionalProperties"


def test_extension_member_key_with_dot_is_rejected() -> None:
    feed = _feed()
    _item(feed)["_custom"] = {"a.b": 1}
    _rejected(feed)


def test_empty_author_object_is_rejected() -> None:
    feed = _feed()
    _item(feed)["authors"] = [{}]
    error = _rejected(feed)
    assert list(error.absolute_path) == ["items", 0, "authors", 0]


def test_item_needs_an_author() -> None:
    feed = _feed()
    _item(feed)["authors"] = []
    error = _rejected(feed)
    assert error.validator == "minItems"


def test_missing_format_extra_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Draft202012Validator, "FORMAT_CHECKER", FormatChecker(formats=["uri"]))
    with pytest.raises(RuntimeError, match="rfc3339-validator") as excinfo:
        feed_schema._require_format_checkers()
    assert "rfc3987" not in str(excinfo.value)
