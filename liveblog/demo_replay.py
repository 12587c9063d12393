"""Replay the demo night as a new live story, so a newcomer watches it happen.

`liveblog demo --replay` plays the steps of `demo.py` (each post, the editor's ruling, the
later edits) at their original relative times divided by a speed, through the one write
path (`service.py`), in a story of its own; at the end (or on Ctrl+C) the story is ended.
No Flask here: the caller hands in the runtime, a clock and where to report progress.

From another process than `liveblog serve`, events reach the live readers the way any
event does: through the broker when one is configured (Redis), else by the live process's
periodic resync from the event log (every few seconds), in order and once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from . import demo_story as d
from .demo import create_demo_story, demo_actors, demo_steps, end_story, play_step
from .models import Story
from .runtime import Runtime

#: The default speed: the two-hour night in about two minutes.
DEFAULT_SPEED = 60.0
SUFFIX = "ulang"  # Indonesian for "replay", as the story is in Indonesian
TITLE_SUFFIX = " (tayangan ulang)"


def replay_slug(rt: Runtime) -> str:
    """Return a free slug for a new replay: the demo's with -ulang, -ulang-2, ..."""
    with rt.db.read() as session:
        taken = set(session.scalars(select(Story.slug).where(Story.slug.startswith(d.DEMO_SLUG))))
    slug, n = f"{d.DEMO_SLUG}-{SUFFIX}", 1
    while slug in taken:
        n += 1
        slug = f"{d.DEMO_SLUG}-{SUFFIX}-{n}"
    return slug


def open_replay(rt: Runtime) -> str:
    """Open a new live story for a replay; return its slug."""
    _, editor = demo_actors(rt)
    slug = replay_slug(rt)
    create_demo_story(rt, editor, slug, title=d.DEMO_TITLE + TITLE_SUFFIX)
    return slug


def replay(
    rt: Runtime,
    slug: str,
    speed: float = DEFAULT_SPEED,
    *,
    sleep: Callable[[float], Any] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    progress: Callable[[int, int], Any] = lambda done, total: None,
) -> None:
    """Play the night in the story at `speed`, then end it; end it too if interrupted."""
    users, editor = demo_actors(rt)
    steps = demo_steps()
    start, first = clock(), steps[0][0]
    posts: dict[int, dict[str, Any]] = {}
    try:
        for done, step in enumerate(steps, 1):
            due = (step[0] - first).total_seconds() / speed
            wait = due - (clock() - start)
            if wait > 0:
                sleep(wait)
            play_step(rt, slug, step, users, editor, posts, None)
            progress(done, len(steps))
    finally:
        end_story(rt, editor, slug)
