"""The OpenAPI 3.1 document of /api/v1 (contract section 8), held to the code that serves it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from conftest import Newsroom, make_app, rt
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openapi_spec_validator import validate

from liveblog.openapi import REQUEST_FIELDS, openapi_document
from liveblog.views.api import MAX_EVENTS_PAGE

SPEC_URL = "/api/v1/openapi.json"
METHODS = {"GET", "POST", "PATCH", "PUT", "DELETE"}


def served(app: Flask) -> dict[str, Any]:
    response = app.test_client().get(SPEC_URL)
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    doc: dict[str, Any] = response.get_json()
    return doc


def test_the_served_document_is_valid_openapi_3_1(app: Flask) -> None:
    doc = served(app)
    assert doc["openapi"] == "3.1.0"
    assert doc["servers"] == [{"url": "http://liveblog.test/"}]
    validate(doc)


def test_every_api_route_and_method_is_described(app: Flask) -> None:
    doc = served(app)
    routes = {
        (method.lower(), re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule))
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1")
        for method in rule.methods or ()
        if method in METHODS
    }
    described = {
        (method, path)
        for path, item in doc["paths"].items()
        for method in item
        if method.upper() in METHODS
    }
    assert routes
    assert routes == described


def test_every_field_validation_accepts_is_described() -> None:
    schemas = openapi_document()["components"]["schemas"]
    for name, fields in REQUEST_FIELDS.items():
        assert set(schemas[name]["properties"]) == set(fields), name
        assert schemas[name]["additionalProperties"] is False
    listed = openapi_document()["paths"]["/api/v1/stories/{slug}/events"]["get"]
    limit = next(p for p in listed["parameters"] if p["name"] == "limit")
    assert limit["schema"]["maximum"] == MAX_EVENTS_PAGE


# -- schemathesis: generated requests against the app, on both databases --------------------

CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_schema_conformance,
]
EXAMPLES = 25
SLUG = "a"


def aimed(case: Any, at_known: bool, post_id: str) -> Any:
    """Point half the generated cases at the story and post that exist, with a real zone."""
    if at_known and case.path_parameters:
        case.path_parameters["slug"] = SLUG
        if "post_id" in case.path_parameters:
            case.path_parameters["post_id"] = post_id
    if isinstance(case.body, dict) and "timezone" in case.body:
        case.body["timezone"] = "Asia/Jakarta"
    return case


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def fuzzed(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Flask, Newsroom]]:
    """An app with a newsroom and one story with a post, on SQLite or PostgreSQL."""
    url = request.getfixturevalue("postgres_url") if request.param == "postgres" else None
    app = make_app(tmp_path, url)
    room = Newsroom(app)
    slug = room.story(slug=SLUG)["slug"]
    room.post_id = room.post(slug)["id"]  # type: ignore[attr-defined]
    yield app, room
    rt(app).db.dispose()


def test_schemathesis_finds_no_500_and_no_answer_off_the_schema(
    fuzzed: tuple[Flask, Newsroom],
) -> None:
    app, room = fuzzed
    schema = schemathesis.openapi.from_wsgi(SPEC_URL, app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 8  # schemathesis may leave out the document's own URL
    # The WSGI transport does not undo Content-Encoding as an HTTP client does.
    auth = {**room.headers("ada"), "Accept-Encoding": "identity"}
    post_id: str = room.post_id  # type: ignore[attr-defined]

    seen: dict[str, set[int]] = {}
    for operation in operations:
        cases = st.tuples(operation.as_strategy(), st.booleans())

        @given(case=cases.map(lambda pair: aimed(*pair, post_id)))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: Any) -> None:
            response = case.call_and_validate(headers=auth, checks=CHECKS)
            seen.setdefault(case.operation.label, set()).add(response.status_code)

        run()
    # The generated requests reached past the refusals too.
    for label in (
        "POST /api/v1/stories",
        "GET /api/v1/stories/{slug}",
        "POST /api/v1/stories/{slug}/posts",
        "GET /api/v1/stories/{slug}/events",
    ):
        assert any(200 <= code < 300 for code in seen[label]), (label, seen[label])
