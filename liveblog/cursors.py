"""Where each webhook endpoint stands in the event log: the log is the queue.

Imports nothing from Flask and does no I/O beyond the session it is given. A cursor is the
last `seq` of a story an endpoint accepted (2xx); the next event to send is the first above
it, and for an all-story endpoint the oldest such event among the stories with news.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from .models import Event, Story, Webhook, WebhookCursor


@dataclass(frozen=True)
class Pending:
    """The next event an endpoint should get."""

    story_id: int
    slug: str
    seq: int
    frame: str
    delivered: int  # the cursor before it


def _cursor(session: Session, hook_id: int, story_id: int) -> int:
    seq = session.scalar(
        select(WebhookCursor.seq).where(
            WebhookCursor.webhook_id == hook_id, WebhookCursor.story_id == story_id
        )
    )
    return seq or 0


def _next_of(session: Session, story_id: int, after: int) -> Event | None:
    return session.scalar(
        select(Event)
        .where(Event.story_id == story_id, Event.seq > after)
        .order_by(Event.seq)
        .limit(1)
    )


def next_event(session: Session, hook: Webhook) -> Pending | None:
    """Return the first undelivered event for the endpoint (oldest first across stories)."""
    if hook.story_id is not None:
        stories = [(hook.story_id, _cursor(session, hook.id, hook.story_id))]
    else:
        delivered = func.coalesce(WebhookCursor.seq, 0)
        rows = session.execute(
            select(Story.id, delivered)
            .outerjoin(
                WebhookCursor,
                (WebhookCursor.story_id == Story.id) & (WebhookCursor.webhook_id == hook.id),
            )
            .where(Story.last_seq > delivered)
            .order_by(Story.id)
            .limit(20)
        ).all()
        stories = [(sid, seq) for sid, seq in rows]
    best: Pending | None = None
    best_at: datetime | None = None
    for story_id, after in stories:
        event = _next_of(session, story_id, after)
        if event is None or (best_at is not None and event.at >= best_at):
            continue
        slug = session.scalar(select(Story.slug).where(Story.id == story_id)) or ""
        best = Pending(story_id, slug, event.seq, event.payload, after)
        best_at = event.at
    return best


def advance(session: Session, hook_id: int, pending: Pending) -> None:
    """Move the cursor past the event, unless a redeliver moved it meanwhile."""
    moved = session.execute(
        update(WebhookCursor)
        .where(
            WebhookCursor.webhook_id == hook_id,
            WebhookCursor.story_id == pending.story_id,
            WebhookCursor.seq == pending.delivered,
        )
        .values(seq=pending.seq)
    )
    if (
        getattr(moved, "rowcount", 0) == 0
        and session.get(WebhookCursor, (hook_id, pending.story_id)) is None
    ):
        session.add(WebhookCursor(webhook_id=hook_id, story_id=pending.story_id, seq=pending.seq))
