"""The admins' page of the desk: users, their sessions and tokens; revoke and disable.

Every change is a POST form with the CSRF token (CSRFProtect) and the same-origin check;
only admins reach any of it (others get 403). The work is done by `liveblog.accounts`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import format_datetime, gettext
from werkzeug.wrappers import Response as BaseResponse

from ..accounts import list_accounts, revoke_token, revoke_tokens, set_disabled
from ..desk_sessions import end_user_sessions
from ..errors import LiveblogError
from ..models import Role
from ..runtime import runtime
from ..web import describe
from .desk_text import ROLE_LABELS
from .editor_auth import current_user, locale, refuse_foreign_origin

bp = Blueprint("admin", __name__, url_prefix="/editor/admin")


def _guard() -> BaseResponse | None:
    refuse_foreign_origin()
    signed_in = current_user()
    if signed_in is None:
        return redirect(url_for("auth.login_form", next=request.full_path.rstrip("?")))
    if signed_in.role is not Role.ADMIN:
        abort(403)
    return None


def _private(response: BaseResponse) -> BaseResponse:
    response.headers["Cache-Control"] = "no-store"
    return response


def admins_only(blueprint: Blueprint) -> None:
    """Let only signed-in admins from our own origin reach `blueprint`, never cached."""
    blueprint.before_request(_guard)
    blueprint.after_request(_private)


admins_only(bp)


def when(value: datetime | None) -> str:
    """Format a time for the admin pages (UTC, in the desk's language)."""
    return format_datetime(value, "d MMM y, HH:mm") + " UTC" if value else ""


@bp.get("/users")
def users() -> str:
    """List every user with their sessions and tokens, and the buttons to end them."""
    signed_in = current_user()
    return render_template(
        "editor/admin.html",
        locale=locale(),
        user=signed_in,
        accounts=list_accounts(runtime().db),
        when=when,
        role_labels={role: str(label) for role, label in ROLE_LABELS.items()},
        role_label=str(ROLE_LABELS[Role.ADMIN]),
    )


def run(change: Callable[[], Any], done: str, back: str = ".users") -> BaseResponse:
    """Make a change, flash how it went, and go back to the admin page `back` (303)."""
    try:
        change()
    except LiveblogError as error:
        flash(describe(error), "error")
    else:
        flash(done, "ok")
    return redirect(url_for(back), code=303)


@bp.post("/users/<name>/revoke-tokens")
def revoke_user_tokens(name: str) -> BaseResponse:
    """Revoke every token of a user."""
    return run(
        lambda: revoke_tokens(runtime().db, name),
        gettext("Every token of %(name)s is revoked.", name=name),
    )


@bp.post("/tokens/<int:token_id>/revoke")
def revoke_one_token(token_id: int) -> BaseResponse:
    """Revoke one token."""
    return run(lambda: revoke_token(runtime().db, token_id), gettext("The token is revoked."))


@bp.post("/users/<name>/end-sessions")
def end_sessions(name: str) -> BaseResponse:
    """Sign a user out everywhere."""
    return run(
        lambda: end_user_sessions(runtime().db, name),
        gettext("%(name)s is signed out everywhere.", name=name),
    )


@bp.post("/users/<name>/disable")
def disable(name: str) -> BaseResponse:
    """Disable a user: sessions and tokens end at once."""
    signed_in = current_user()
    if signed_in is not None and signed_in.username == name:
        flash(gettext("You cannot disable your own account."), "error")
        return redirect(url_for(".users"), code=303)
    return run(
        lambda: set_disabled(runtime().db, name, disabled=True),
        gettext("%(name)s is disabled: sessions ended, tokens revoked.", name=name),
    )


@bp.post("/users/<name>/enable")
def enable(name: str) -> BaseResponse:
    """Let a disabled user sign in again."""
    return run(
        lambda: set_disabled(runtime().db, name, disabled=False),
        gettext("%(name)s may sign in again.", name=name),
    )
