"""The admins' webhooks page of the desk: endpoints, their state and delivery log.

Create (the secret is shown once, on the answer to the form, never stored in a cookie),
pause, resume, redeliver from a seq and delete: each a POST form with the CSRF token
(CSRFProtect) and the same-origin check; only admins reach any of it. The work is done by
`liveblog.webhooks`; deliveries themselves happen in the dispatcher process.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import (
    Blueprint,
    current_app,
    flash,
    render_template,
    request,
)
from flask_babel import gettext, lazy_gettext
from sqlalchemy import func, select
from werkzeug.wrappers import Response as BaseResponse

from ..errors import LiveblogError
from ..models import Role, Story, Webhook, WebhookState
from ..runtime import runtime
from ..web import describe
from ..webhooks import create_webhook, delete_webhook, list_webhooks, redeliver, set_paused
from .admin import admins_only, run, when
from .desk_text import ROLE_LABELS
from .editor_auth import current_user, locale

bp = Blueprint("webhooks_admin", __name__, url_prefix="/editor/admin/webhooks")

STATE_LABELS = {
    "active": lazy_gettext("Active"),
    "failing": lazy_gettext("Failing"),
    "paused": lazy_gettext("Paused"),
}


def paused_webhooks() -> int:
    """Count the endpoints paused for failing, for the notice every admin desk page shows."""
    with runtime().db.read() as session:
        count = session.scalar(
            select(func.count()).where(
                Webhook.state == WebhookState.PAUSED, Webhook.failing_since.is_not(None)
            )
        )
    return count or 0


@bp.app_context_processor
def _notice() -> dict[str, Any]:
    return {"paused_webhooks": paused_webhooks}


admins_only(bp)


def _page(created: tuple[int, str] | None = None, status: int = 200) -> tuple[str, int]:
    with runtime().db.read() as session:
        slugs = list(session.scalars(select(Story.slug).order_by(Story.created_at.desc())))
    html = render_template(
        "editor/webhooks.html",
        locale=locale(),
        user=current_user(),
        role_label=str(ROLE_LABELS[Role.ADMIN]),
        hooks=list_webhooks(runtime().db),
        slugs=slugs,
        created=created,
        when=when,
        state_labels={key: str(label) for key, label in STATE_LABELS.items()},
    )
    return html, status


@bp.get("")
def index() -> tuple[str, int]:
    """List every endpoint with its state, cursor and newest delivery attempts."""
    return _page()


@bp.post("")
def create() -> tuple[str, int]:
    """Add an endpoint and show its secret, this once."""
    signed_in = current_user()
    try:
        created = create_webhook(
            runtime().db,
            current_app.config["LIVEBLOG_SECRET_KEY"],
            request.form.get("url", ""),
            request.form.get("story") or None,
            signed_in.username if signed_in else "",
        )
    except LiveblogError as error:
        flash(describe(error), "error")
        return _page(status=error.status)
    return _page(created, 201)


def _run(change: Callable[[], Any], done: str) -> BaseResponse:
    return run(change, done, back=".index")


@bp.post("/<int:hook_id>/pause")
def pause(hook_id: int) -> BaseResponse:
    """Stop delivering to an endpoint; its events wait in the log."""
    return _run(
        lambda: set_paused(runtime().db, hook_id, paused=True, reason=gettext("Paused by hand.")),
        gettext("Webhook %(id)s is paused.", id=hook_id),
    )


@bp.post("/<int:hook_id>/resume")
def resume(hook_id: int) -> BaseResponse:
    """Deliver to an endpoint again, from where it stopped."""
    return _run(
        lambda: set_paused(runtime().db, hook_id, paused=False),
        gettext("Webhook %(id)s is active again.", id=hook_id),
    )


@bp.post("/<int:hook_id>/redeliver")
def redeliver_from(hook_id: int) -> BaseResponse:
    """Send an endpoint its events again from a seq on."""
    raw = request.form.get("seq", "").strip()
    seq = int(raw) if raw.isdigit() and len(raw) < 10 else 0
    return _run(
        lambda: redeliver(runtime().db, hook_id, seq, request.form.get("story") or None),
        gettext("Webhook %(id)s gets its events again from seq %(seq)s.", id=hook_id, seq=seq),
    )


@bp.post("/<int:hook_id>/delete")
def delete(hook_id: int) -> BaseResponse:
    """Remove an endpoint: nothing more is sent to it."""
    return _run(
        lambda: delete_webhook(runtime().db, hook_id),
        gettext("Webhook %(id)s is deleted.", id=hook_id),
    )
