"""The operator's health check."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from ..runtime import runtime

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    """Answer 200 when the database and broker answer, 503 with the reason otherwise."""
    rt = runtime()
    problems: dict[str, str] = {}
    try:
        rt.db.ping()
    except Exception as exc:  # noqa: BLE001 - any failure is the answer
        problems["database"] = f"unreachable: {type(exc).__name__}"
    try:
        rt.broker.ping()
    except Exception as exc:  # noqa: BLE001
        problems["broker"] = f"unreachable: {type(exc).__name__}"
    if problems:
        response = jsonify({"status": "unavailable", "problems": problems})
        response.headers["Cache-Control"] = "no-store"
        return response, 503
    response = jsonify({"status": "ok"})
    response.headers["Cache-Control"] = "no-store"
    return response, 200
