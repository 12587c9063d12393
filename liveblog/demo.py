"""Load the demo story through the normal write path, once, as the past night it was.

The night of the demo (`demo_story.py`) is over: the story is loaded with each post,
ruling and edit at its original time, then ended at its last change. `demo_replay.py`
plays the same steps again as a new live story.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from . import demo_story as d
from .accounts import actor_of, create_user
from .demo_story import DemoUpdate
from .models import Post, Story, StoryStatus, User, Verification
from .runtime import Runtime
from .service import Actor

#: One step of the night: when, what (0 publish, 1 the editor's ruling, 2 a later edit).
Step = tuple[datetime, int, DemoUpdate]


def demo_steps() -> list[Step]:
    """Return the night in time order: each post, its ruling, then any edit or correction."""
    steps: list[Step] = []
    for update in d.DEMO_UPDATES:
        steps += [(update.at, 0, update), (update.at + timedelta(minutes=3), 1, update)]
        if update.edited_body or update.correction:
            steps.append((update.at + timedelta(minutes=25), 2, update))
    return sorted(steps, key=lambda s: (s[0], s[1]))


def demo_actors(rt: Runtime) -> tuple[dict[str, Actor], Actor]:
    """Create the demo's newsroom if missing; return its actors by username and the editor."""
    with rt.db.read() as session:
        existing = set(session.scalars(select(User.username)))
    for username, (display_name, role) in d.DEMO_AUTHORS.items():
        if username not in existing:
            create_user(rt.db, username, role, None, display_name)
    with rt.db.read() as session:
        users = {u.username: actor_of(u) for u in session.scalars(select(User))}
    editor = next(users[name] for name, (_, role) in d.DEMO_AUTHORS.items() if role == "editor")
    return users, editor


def create_demo_story(
    rt: Runtime,
    editor: Actor,
    slug: str,
    *,
    title: str = d.DEMO_TITLE,
    created_at: datetime | None = None,
) -> None:
    """Open the demo's story under a slug, live."""
    rt.service.create_story(
        editor,
        {
            "title": title,
            "summary": d.DEMO_SUMMARY,
            "language": d.DEMO_LANGUAGE,
            "timezone": d.DEMO_TIMEZONE,
            "slug": slug,
        },
        created_at=created_at,
    )


def play_step(
    rt: Runtime,
    slug: str,
    step: Step,
    users: dict[str, Actor],
    editor: Actor,
    posts: dict[int, dict[str, Any]],
    at: datetime | None,
) -> None:
    """Play one step of the night in a story at `at` (now if None); posts keeps what it made."""
    _, kind, update = step
    key = id(update)
    if kind == 0:
        posts[key] = _publish(rt, slug, users[update.author], update, at)
    elif kind == 1:
        posts[key] = _rule(rt, slug, editor, update, posts[key], at)
    else:
        posts[key] = _revise(rt, slug, editor, update, posts[key], at)


def load_demo(rt: Runtime) -> str:
    """Create the demo story with its updates unless it exists, ended; return its slug."""
    with rt.db.read() as session:
        story = session.scalar(select(Story).where(Story.slug == d.DEMO_SLUG))
        live = story is not None and story.status is StoryStatus.LIVE
    if story is not None and not live:
        return d.DEMO_SLUG
    users, editor = demo_actors(rt)
    if story is None:
        create_demo_story(rt, editor, d.DEMO_SLUG, created_at=d.DEMO_STARTED_AT)
        posts: dict[int, dict[str, Any]] = {}
        for step in demo_steps():
            play_step(rt, d.DEMO_SLUG, step, users, editor, posts, step[0])
    # The night is over (a demo loaded by an older version was left live): it ended with
    # its last change.
    end_story(rt, editor, d.DEMO_SLUG, last_change(rt, d.DEMO_SLUG))
    return d.DEMO_SLUG


def last_change(rt: Runtime, slug: str) -> datetime | None:
    """Return when a story's newest post last changed (None if it has no posts)."""
    with rt.db.read() as session:
        return session.scalar(
            select(func.max(Post.updated_at))
            .join(Story, Story.id == Post.story_id)
            .where(Story.slug == slug)
        )


def end_story(rt: Runtime, editor: Actor, slug: str, at: datetime | None = None) -> None:
    """End a story's coverage, at `at` (now if None)."""
    rt.service.update_story(editor, slug, {"status": StoryStatus.ENDED.value}, at=at)


def _publish(
    rt: Runtime, slug: str, author: Actor, update: DemoUpdate, at: datetime | None
) -> dict[str, Any]:
    """Post an update as its reporter; only editors may confirm or refute."""
    allowed = author.role.is_editor or not Verification(update.verification).needs_editor
    return rt.service.create_post(
        author,
        slug,
        {
            "body": update.body,
            "verification": {
                "status": update.verification if allowed else "unverified",
                "note": update.note if allowed else "",
            },
            "pinned": update.pinned and author.role.is_editor,
            "key_event": update.key_event,
        },
        published_at=at,
    )


def _rule(
    rt: Runtime,
    slug: str,
    editor: Actor,
    update: DemoUpdate,
    post: dict[str, Any],
    at: datetime | None,
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
        editor, slug, post["id"], {"version": post["version"], **change}, at=at
    )


def _revise(
    rt: Runtime,
    slug: str,
    editor: Actor,
    update: DemoUpdate,
    post: dict[str, Any],
    at: datetime | None,
) -> dict[str, Any]:
    """Apply the later edit and correction notice."""
    change: dict[str, Any] = {"version": post["version"]}
    if update.edited_body:
        change["body"] = update.edited_body
    if update.correction:
        change["correction"] = update.correction
    return rt.service.update_post(editor, slug, post["id"], change, at=at)
