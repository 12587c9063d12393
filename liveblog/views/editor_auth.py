"""Signing in to the desk: the login form, sessions, logout and the login rate limit.

The session is Flask's signed cookie: HttpOnly, SameSite=Lax, Secure over HTTPS (or
always, with LIVEBLOG_SECURE_COOKIES=1). Signing in clears the session before it stores
the user, so nothing from before (a planted value, the old CSRF token) carries over. The
session also keeps a fingerprint of the password hash: a changed password ends it.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    g,
    has_request_context,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.sessions import SecureCookieSessionInterface
from flask_babel import get_locale, gettext
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash
from werkzeug.wrappers import Response as BaseResponse

from ..accounts import actor_of, user_for_password
from ..models import Role, User
from ..runtime import runtime
from ..service import Actor
from ..uploads import MAX_UPLOAD_BYTES

bp = Blueprint("auth", __name__, url_prefix="/editor")
limiter = Limiter(key_func=get_remote_address, key_prefix="liveblog-limit")

LOGIN_LIMIT = "10 per minute"
SESSION_HOURS = 12
# Checked when the user name is unknown, so that a wrong name costs as long as a wrong password.
_DUMMY_HASH = generate_password_hash("not a password")


@dataclass(frozen=True)
class DeskUser:
    """The signed-in user, detached from any database session."""

    id: int
    username: str
    display_name: str
    role: Role

    @property
    def actor(self) -> Actor:
        """Return the write path's view of this user."""
        return Actor(id=self.id, name=self.display_name, role=self.role)

    @property
    def is_editor(self) -> bool:
        """Tell whether the user has the editor's powers."""
        return self.role.is_editor


class DeskSessionInterface(SecureCookieSessionInterface):
    """The signed cookie session, marked Secure whenever the request came over HTTPS."""

    def get_cookie_secure(self, app: Flask) -> bool:
        """Secure if configured so, or if this request is HTTPS."""
        if super().get_cookie_secure(app):
            return True
        return has_request_context() and request.is_secure


def init_app(app: Flask) -> None:
    """Configure the desk's sessions, CSRF lifetime, login rate limit and upload size."""
    secure = app.config.get("LIVEBLOG_SECURE_COOKIES", os.environ.get("LIVEBLOG_SECURE_COOKIES"))
    if str(secure or "").strip().lower() in ("1", "true", "yes"):
        app.config["SESSION_COOKIE_SECURE"] = True
    if app.config["PERMANENT_SESSION_LIFETIME"] == timedelta(days=31):  # Flask's default
        app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(hours=SESSION_HOURS)
    # The token lives as long as the session: a desk left open all shift keeps working.
    # (Call this before CSRFProtect.init_app, which would set its one-hour default.)
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)
    broker = str(app.config.get("LIVEBLOG_BROKER_URL") or "")
    storage = broker if broker.startswith(("redis://", "rediss://")) else "memory://"
    app.config.setdefault("RATELIMIT_STORAGE_URI", storage)
    app.config.setdefault("RATELIMIT_SWALLOW_ERRORS", True)
    app.config.setdefault("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED", True)
    app.config.setdefault("LIVEBLOG_LOGIN_LIMIT", LOGIN_LIMIT)
    app.session_interface = DeskSessionInterface()
    app.before_request(_upload_size)  # before CSRFProtect's check, which reads the form
    limiter.init_app(app)


def _upload_size() -> None:
    """Let an image upload be larger than the JSON requests the app limit is meant for."""
    if request.endpoint == "desk_api.upload":
        request.max_content_length = MAX_UPLOAD_BYTES + 64 * 1024  # multipart adds a little


def _fingerprint(password_hash: str | None) -> str:
    return hashlib.sha256((password_hash or "").encode()).hexdigest()[:16]


def current_user() -> DeskUser | None:
    """Return the signed-in user of this request, loading it once."""
    if "desk_user" in g:
        user: DeskUser | None = g.desk_user
        return user
    user = None
    uid = session.get("uid")
    if isinstance(uid, int):
        with runtime().db.read() as db_session:
            row = db_session.get(User, uid)
            if row is not None and session.get("pw") == _fingerprint(row.password_hash):
                actor = actor_of(row)
                user = DeskUser(row.id, row.username, actor.name, actor.role)
    g.desk_user = user
    return user


def locale() -> str:
    """Return the locale this request is answered in."""
    return str(get_locale())


def _safe_next(target: str | None) -> str:
    """Return where to go after signing in: only a path on the desk, never another site."""
    default = url_for("editor.index")
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/editor"):
        return default
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _login_limit() -> str:
    limit: str = current_app.config["LIVEBLOG_LOGIN_LIMIT"]
    return limit


def _username_key() -> str:
    return "user:" + request.form.get("username", "").strip().lower()[:64]


def _failed(response: Response) -> bool:
    return response.status_code == 401


def _login_page(status: int = 200, error: str | None = None) -> tuple[str, int]:
    html = render_template(
        "editor/login.html",
        locale=locale(),
        error=error,
        username=request.form.get("username", ""),
        next=request.values.get("next", ""),
    )
    return html, status


@bp.get("/login")
def login_form() -> Any:
    """Show the sign-in form (or go to the desk if already signed in)."""
    if current_user() is not None:
        return redirect(_safe_next(request.args.get("next")))
    return _login_page()


@bp.post("/login")
@limiter.limit(_login_limit, key_func=get_remote_address, deduct_when=_failed)
@limiter.limit(_login_limit, key_func=_username_key, deduct_when=_failed)
def login() -> Any:
    """Check the user name and password, then start a fresh session."""
    username = request.form.get("username", "").strip()
    password = request.form.get("password", "")
    uid, fingerprint = None, ""
    if username and password and len(username) <= 64 and len(password) <= 1024:
        with runtime().db.read() as db_session:
            row = user_for_password(db_session, username, password)
            if row is not None:
                uid, fingerprint = row.id, _fingerprint(row.password_hash)
            elif db_session.scalar(select(User.id).where(User.username == username)) is None:
                check_password_hash(_DUMMY_HASH, password)
    if uid is None:
        # One message whether the name or the password was wrong: it tells an attacker nothing.
        return _login_page(401, gettext("The user name or password is not right."))
    session.clear()  # rotate: nothing from before the sign-in survives it
    session.permanent = True
    session["uid"] = uid
    session["pw"] = fingerprint
    return redirect(_safe_next(request.form.get("next")), code=303)


@bp.post("/logout")
def logout() -> BaseResponse:
    """End the session."""
    session.clear()
    return redirect(url_for("auth.login_form"), code=303)


@bp.errorhandler(429)
def _too_many(error: Exception) -> tuple[str, int, dict[str, str]]:
    html, status = _login_page(
        429, gettext("Too many sign-in attempts. Please wait a minute and try again.")
    )
    return html, status, {"Retry-After": "60"}


UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def refuse_foreign_origin() -> None:
    """Refuse a state-changing request another site's page sent (its Origin names it).

    Flask-WTF's token (and, over HTTPS, its Referer check) is the main guard; this one also
    holds over plain HTTP, where browsers still send Origin with every cross-site POST.
    """
    origin = request.headers.get("Origin")
    foreign = origin is not None and urlsplit(origin).netloc != request.host
    if foreign and request.method in UNSAFE_METHODS:
        abort(403)


bp.before_request(refuse_foreign_origin)
