"""The admins' partner-keys page of the desk: keys, their limits and usage; create, revoke.

Admins only (others get 403); every change is a POST form with the CSRF token and the
same-origin check. A new key is shown once, in the answer to the form that made it (never
in a flash message, which would travel in the session cookie), and never again.
"""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import format_date, gettext
from flask_babel import lazy_gettext as _l
from werkzeug.wrappers import Response as BaseResponse

from ..errors import LiveblogError
from ..models import Role
from ..partners import create_key, list_keys, revoke_key_id
from ..runtime import runtime
from ..web import describe
from .admin import admins_only, when
from .desk_text import ROLE_LABELS
from .editor_auth import current_user, locale

bp = Blueprint("partner_admin", __name__, url_prefix="/editor/admin/partners")

#: The kinds of endpoint usage is counted under, and their names on the page.
KINDS = {
    "feed": "JSON Feed",
    "atom": "Atom",
    "events": _l("Event log"),
    "live": _l("Live stream"),
}


admins_only(bp)


def _page(new_key: str | None = None, new_name: str = "", status: int = 200) -> tuple[str, int]:
    html = render_template(
        "editor/partners.html",
        locale=locale(),
        user=current_user(),
        keys=list_keys(runtime().db),
        kinds={kind: str(label) for kind, label in KINDS.items()},
        when=when,
        day=lambda value: format_date(value, "d MMM"),
        new_key=new_key,
        new_name=new_name,
        default_rate=current_app.config["LIVEBLOG_PARTNER_RATE"],
        role_label=str(ROLE_LABELS[Role.ADMIN]),
    )
    return html, status


@bp.get("")
def keys() -> tuple[str, int]:
    """List every partner key with its limit and its usage per day."""
    return _page()


@bp.post("")
def create() -> tuple[str, int]:
    """Issue a key and show it, this once."""
    name = request.form.get("name", "")
    raw_rate = request.form.get("rate", "").strip()
    try:
        rate = int(raw_rate) if raw_rate.isascii() and raw_rate.isdigit() else -1
        if not raw_rate:
            rate = current_app.config["LIVEBLOG_PARTNER_RATE"]
        key = create_key(runtime().db, name, rate)
    except LiveblogError as error:
        flash(describe(error), "error")
        return _page(status=error.status)
    return _page(new_key=key, new_name=name.strip())


@bp.post("/<int:key_id>/revoke")
def revoke(key_id: int) -> BaseResponse:
    """Revoke one key at once."""
    try:
        name = revoke_key_id(runtime().db, key_id)
    except LiveblogError as error:
        flash(describe(error), "error")
    else:
        flash(gettext("The key of %(name)s is revoked.", name=name), "ok")
    return redirect(url_for(".keys"), code=303)
