"""Validate JSON Feed documents against the schemas in ``tests/schemas``.

``jsonfeed-1.1.schema.json`` encodes the JSON Feed 1.1 spec; ``liveblog-feed.schema.json``
references it by ``$id`` and adds what liveblog always emits (our ``_liveblog`` extension).
Formats ("date-time", "uri") are enforced, which needs the ``jsonschema[format]`` extra.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator  # type: ignore[import-untyped]
from referencing import Registry
from referencing.jsonschema import DRAFT202012

SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"
JSONFEED_SCHEMA_PATH = SCHEMA_DIR / "jsonfeed-1.1.schema.json"
LIVEBLOG_SCHEMA_PATH = SCHEMA_DIR / "liveblog-feed.schema.json"

# Format name -> the distribution that makes jsonschema's FORMAT_CHECKER check it.
_REQUIRED_FORMATS: dict[str, str] = {
    "date-time": "rfc3339-validator",
    "uri": "rfc3987 (or rfc3986-validator)",
}


def _require_format_checkers() -> None:
    """Fail loudly if a format used by the schemas would be silently ignored.

    jsonschema only registers a format checker when its optional dependency imports, and
    skips unknown formats without error, so a missing extra would make every date and URL
    pass.
    """
    checkers: dict[str, object] = Draft202012Validator.FORMAT_CHECKER.checkers
    missing = [
        f"{fmt!r} needs {dist}" for fmt, dist in _REQUIRED_FORMATS.items() if fmt not in checkers
    ]
    if missing:
        raise RuntimeError(
            "jsonschema cannot check the formats the feed schemas use: "
            + "; ".join(missing)
            + ". Install the jsonschema[format] extra (or jsonschema[format-nongpl])."
        )


def _load(path: Path) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return schema


@cache
def _validators() -> tuple[Any, Any]:
    """Return (JSON Feed 1.1 validator, liveblog feed validator)."""
    _require_format_checkers()
    jsonfeed = _load(JSONFEED_SCHEMA_PATH)
    liveblog = _load(LIVEBLOG_SCHEMA_PATH)
    registry: Registry[Any] = Registry().with_resources(
        (schema["$id"], DRAFT202012.create_resource(schema)) for schema in (jsonfeed, liveblog)
    )
    checker = Draft202012Validator.FORMAT_CHECKER
    return (
        Draft202012Validator(jsonfeed, registry=registry, format_checker=checker),
        Draft202012Validator(liveblog, registry=registry, format_checker=checker),
    )


def validate_jsonfeed(doc: dict[str, object]) -> None:
    """Validate against plain JSON Feed 1.1; raise ``jsonschema.ValidationError`` if invalid."""
    _validators()[0].validate(doc)


def validate_feed(doc: dict[str, object]) -> None:
    """Validate a liveblog feed; raise ``jsonschema.ValidationError`` if invalid."""
    _validators()[1].validate(doc)
