"""The rules of verification: who may set a status, and what a change of text undoes.

Imports nothing from Flask and does no I/O: the write path (`service.py`) calls these on a
post inside its transaction. An editor's `confirmed` or `false` judges the text as it stood,
so a later change of that text returns the post to `unverified` unless the same request,
by an editor, judges it again; a status an editor set is not a reporter's to change.
Every change of status appends to the post's public timeline (`verification_history`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .errors import N_, Forbidden
from .models import Post, Verification
from .payloads import rfc3339

#: The timeline entry's `reason` when a change of text undid a verdict.
TEXT_CHANGED = "text_changed"


def record(
    post: Post,
    status: Verification,
    note: str,
    at: datetime,
    *,
    by_editor: bool,
    reason: str = "",
) -> None:
    """Set a post's status and append it to the post's public timeline."""
    post.verification = status
    post.verification_note = note
    post.verification_by_editor = by_editor
    entry: dict[str, str] = {"status": status.value, "note": note, "at": rfc3339(at) or ""}
    if reason:
        entry["reason"] = reason
    # A new list, so the JSON column sees the change.
    post.verification_history = [*(post.verification_history or []), entry]


def check_new(status: Verification, *, is_editor: bool) -> None:
    """Refuse a status on a new post that only an editor may set."""
    if status.needs_editor and not is_editor:
        raise Forbidden(N_("Only editors may mark a post confirmed or false."))


def apply(
    post: Post,
    *,
    body_changed: bool,
    wanted: Any,
    is_editor: bool,
    at: datetime,
) -> bool:
    """Apply a requested status (`wanted`: VerificationInput or None) and the binding rule.

    Call it after the body was compared but before anything is written. Return whether
    the post's verification changed.
    """
    current = (post.verification, post.verification_note)
    if wanted is not None and not is_editor:
        asked = (wanted.status, wanted.note)
        if asked != current and post.verification_by_editor:
            raise Forbidden(
                N_(
                    "An editor set this update's verification status; only an editor "
                    "may change it."
                ),
                code="verdict_locked",
            )
        if wanted.status.needs_editor and (asked != current or body_changed):
            raise Forbidden(N_("Only editors may mark a post confirmed or false."))
    if wanted is not None and is_editor and body_changed:
        # The editor judges the new text in the same request: a fresh verdict.
        record(post, wanted.status, wanted.note, at, by_editor=True)
        return True
    if wanted is not None and (wanted.status, wanted.note) != current:
        record(post, wanted.status, wanted.note, at, by_editor=is_editor)
        return True
    if body_changed and post.verification.needs_editor:
        # The verdict judged the old text: the new text is unchecked.
        record(post, Verification.UNVERIFIED, "", at, by_editor=False, reason=TEXT_CHANGED)
        return True
    return False
