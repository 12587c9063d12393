"""Load the demo story through the normal write path, once."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from . import demo_story as d
from .accounts import actor_of, create_user
from .demo_story import DemoUpdate
from .models import Story, User, Verification
from .runtime import Runtime
from .service import Actor


def load_demo(rt: Runtime) -> str:
    """Create the demo story with its updates unless it exists; return its slug."""
    with rt.db.read() as session:
        if session.scalar(select(Story.id).where(Story.slug == d.DEMO_SLUG)) is not None:
            return d.DEMO_SLUG
        existing = set(session.scalars(select(User.username)))
    for username, (display_name, role) in d.DEMO_AUTHORS.items():
        if username not in existing:
            create_user(rt.db, username, role, None, display_name)
    with rt.db.read() as session:
        users = {u.username: actor_of(u) for u in session.scalars(select(User))}
    editor = next(users[name] for name, (_, role) in d.DEMO_AUTHORS.items() if role == "editor")
    rt.service.create_story(
        editor,
        {
            "title": d.DEMO_TITLE,
            "summary": d.DEMO_SUMMARY,
            "language": d.DEMO_LANGUAGE,
            "timezone": d.DEMO_TIMEZONE,
            "slug": d.DEMO_SLUG,
        },
        created_at=d.DEMO_STARTED_AT,
    )
    # Replay the night in time order: each post, then the editor's ruling a few minutes
    # later, then any edit or correction later still.
    steps: list[tuple[datetime, int, DemoUpdate]] = []
    for update in d.DEMO_UPDATES:
        steps += [(update.at, 0, update), (update.at + timedelta(minutes=3), 1, update)]
        if update.edited_body or update.correction:
            steps.append((update.at + timedelta(minutes=25), 2, update))
    posts: dict[int, dict[str, Any]] = {}
    for at, kind, update in sorted(steps, key=lambda s: (s[0], s[1])):
        key = id(update)
        if kind == 0:
            posts[key] = _publish(rt, users[update.author], update)
        elif kind == 1:
            posts[key] = _rule(rt, editor, update, posts[key], at)
        else:
            posts[key] = _revise(rt, editor, update, posts[key], at)
    return d.DEMO_SLUG


def _publish(rt: Runtime, author: Actor, update: DemoUpdate) -> dict[str, Any]:
    """Post an update as its reporter; only editors may confirm or refute."""
    allowed = author.role.is_editor or not Verification(update.verification).needs_editor
    return rt.service.create_post(
        author,
        d.DEMO_SLUG,
        {
            "body": update.body,
            "verification": {
                "status": update.verification if allowed else "unverified",
                "note": update.note if allowed else "",
            },
            "pinned": update.pinned and author.role.is_editor,
            "key_event": update.key_event,
        },
        published_at=update.at,
    )


def _rule(
    rt: Runtime, editor: Actor, update: DemoUpdate, post: dict[str, Any], at: datetime
) -> dict[str, Any]:
    """Let the editor set the status the reporter could not, and pin."""
    change: dict[str, Any] = {}
    if post["verification"]["status"] != update.verification:
        change["verification"] = {"status": update.verification, "note": update.note}
    if update.pinned and not post["pinned"]:
        change["pinned"] = True
    if not change:
        return post
    return rt.service.update_post(
        editor, d.DEMO_SLUG, post["id"], {"version": post["version"], **change}, at=at
    )


def _revise(
    rt: Runtime, editor: Actor, update: DemoUpdate, post: dict[str, Any], at: datetime
) -> dict[str, Any]:
    """Apply the later edit and correction notice."""
    change: dict[str, Any] = {"version": post["version"]}
    if update.edited_body:
        change["body"] = update.edited_body
    if update.correction:
        change["correction"] = update.correction
    return rt.service.update_post(editor, d.DEMO_SLUG, post["id"], change, at=at)
