"""Signing in to the desk: the login form, sessions, logout and the login rate limit.

The limit (`liveblog.logins`) is taken before the password is checked; see that module for
the keys and why nobody can lock a user out from elsewhere.

The cookie is Flask's signed session: HttpOnly, SameSite=Lax, Secure over HTTPS (or
always, with LIVEBLOG_SECURE_COOKIES=1). It names a server-side session
(`liveblog.desk_sessions`), so signing out, disabling the user or an admin ends it at
once. Signing in clears the cookie before it stores the new session, so nothing from
before (a planted value, the old CSRF token) carries over. The cookie also keeps a
fingerprint of the password hash: a changed password ends the session.
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
from werkzeug.wrappers import Response as BaseResponse

from ..accounts import actor_of, authenticate
from ..desk_sessions import end_session, session_user, start_session
from ..i18n import LOCALES
from ..logins import (
    DEVICE_COOKIE,
    DEVICE_MAX_AGE,
    DeviceCookies,
    LoginLimit,
    make_counter,
    report_failure,
)
from ..models import Role
from ..runtime import runtime
from ..service import Actor
from ..uploads import MAX_UPLOAD_BYTES

bp = Blueprint("auth", __name__, url_prefix="/editor")

SESSION_HOURS = 12


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
    counter = make_counter(app.extensions["liveblog"].db, broker)
    limit = int(app.config["LIVEBLOG_LOGIN_LIMIT"])
    app.extensions["liveblog_logins"] = LoginLimit(counter, limit)
    app.extensions["liveblog_devices"] = DeviceCookies(app.config["SECRET_KEY"])
    app.session_interface = DeskSessionInterface()
    app.before_request(_upload_size)  # before CSRFProtect's check, which reads the form


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
    secret = session.get("sid")
    if isinstance(secret, str):
        with runtime().db.read() as db_session:
            row = session_user(db_session, secret)
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


def _login_limit() -> LoginLimit:
    limit: LoginLimit = current_app.extensions["liveblog_logins"]
    return limit


def _devices() -> DeviceCookies:
    devices: DeviceCookies = current_app.extensions["liveblog_devices"]
    return devices


def _login_page(status: int = 200, error: str | None = None) -> tuple[str, int]:
    asked = request.args.get("lang")
    html = render_template(
        "editor/login.html",
        locale=locale(),
        # A language asked for in the URL carries through the POST (and its error page).
        lang=asked if asked in LOCALES else None,
        error=error,
        username=request.form.get("username", ""),
        next=request.values.get("next", ""),
    )
    return html, status


def _end_session() -> None:
    secret = session.get("sid")
    if isinstance(secret, str):
        end_session(runtime().db, secret)


@bp.get("/login")
def login_form() -> Any:
    """Show the sign-in form (or go to the desk if already signed in)."""
    if current_user() is not None:
        return redirect(_safe_next(request.args.get("next")))
    return _login_page()


@bp.post("/login")
def login() -> Any:
    """Take the attempt's limit, check the user name and password, start a fresh session."""
    username = request.form.get("username", "").strip()
    password = request.form.get("password", "")
    if not (username and password and len(username) <= 64 and len(password) <= 1024):
        report_failure("password")
        return _login_page(401, gettext("The user name or password is not right."))
    device_cookie = request.cookies.get(DEVICE_COOKIE)
    device = _devices().device_for(device_cookie, username)
    ticket = _login_limit().admit(username, request.remote_addr or "", device)
    if ticket is None:
        report_failure("rate_limited")
        return _too_many()
    signed_in = authenticate(runtime().db, username, password)
    if signed_in is None:
        report_failure("password")
        # One message whether the name or the password was wrong: it tells an attacker nothing.
        return _login_page(401, gettext("The user name or password is not right."))
    _login_limit().succeeded(ticket)
    _end_session()
    session.clear()  # rotate: nothing from before the sign-in survives it
    session.permanent = True
    lifetime = current_app.permanent_session_lifetime
    session["sid"] = start_session(runtime().db, signed_in.id, lifetime)
    session["pw"] = _fingerprint(signed_in.password_hash)
    response = redirect(_safe_next(request.form.get("next")), code=303)
    response.set_cookie(
        DEVICE_COOKIE,
        _devices().issue(device_cookie, username),
        max_age=DEVICE_MAX_AGE,
        path=url_for("auth.login"),
        secure=current_app.session_interface.get_cookie_secure(current_app),
        httponly=True,
        samesite="Lax",
    )
    return response


@bp.post("/logout")
def logout() -> BaseResponse:
    """End the session, on the server too: the old cookie no longer works."""
    _end_session()
    session.clear()
    return redirect(url_for("auth.login_form"), code=303)


def _too_many() -> tuple[str, int, dict[str, str]]:
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
