"""Drafts, submissions and their approval: posts that are not published yet.

Imports nothing from Flask. A draft lives in its own table and never touches the story's
event log, so no reader, feed or WebSocket sees it. Publishing one (now, on approval, or
by the scheduler) goes through the one write path, `StoryService.create_post`, whose
transaction also claims the draft (`UPDATE ... WHERE state IN (...) AND version = ...`):
the post and the draft's `published` state commit together, so a draft is published
exactly once however many processes try. Only its author and the editors see a draft.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from .db import Database
from .draft_input import parse_draft, parse_publish, parse_reject
from .errors import N_, Conflict, Forbidden, LiveblogError, NotFound
from .models import Draft, DraftState, Post, Role, Story, User, utcnow
from .payloads import rfc3339
from .service import Actor, StoryService
from .validation import possible_post_id

OPEN = (DraftState.DRAFT, DraftState.SCHEDULED, DraftState.PENDING, DraftState.REJECTED)


def draft_payload(draft: Draft, slug: str) -> dict[str, Any]:
    """Return a draft as the drafts endpoints answer it (load it with its users)."""
    reviewer = draft.reviewer
    return {
        "id": draft.id,
        "story": slug,
        "state": draft.state.value,
        "payload": draft.payload,
        "publish_at": rfc3339(draft.publish_at),
        "author": {"name": draft.author.display_name},
        "reviewer": {"name": reviewer.display_name} if reviewer is not None else None,
        "reviewed_at": rfc3339(draft.reviewed_at),
        "reason": draft.reason,
        "post": draft.post_id,
        "created_at": rfc3339(draft.created_at),
        "updated_at": rfc3339(draft.updated_at),
        "version": draft.version,
    }


def _stale(draft: Draft, slug: str) -> Conflict:
    error = Conflict(
        N_("The draft was changed meanwhile: it is at version %(current)d."),
        code="stale_version",
        current=draft.version,
    )
    error.details = {"current": draft_payload(draft, slug)}
    return error


class DraftService:
    """Every change to drafts goes through here; publishing goes on to `StoryService`."""

    def __init__(self, db: Database, posts: StoryService) -> None:
        self.db = db
        self.posts = posts

    # -- reading ---------------------------------------------------------------------------

    @staticmethod
    def _story(session: Session, slug: str) -> Story:
        story = session.scalar(select(Story).where(Story.slug == slug))
        if story is None:
            raise NotFound(N_("There is no story at this address."))
        return story

    def _visible(
        self, session: Session, actor: Actor, slug: str, draft_id: str, *, lock: bool = False
    ) -> Draft:
        """Return the draft if this actor may see it; else 404, so nothing leaks.

        `lock` holds its row to the end of a write, so a publish's claim committed meanwhile
        is seen (PostgreSQL) instead of being overwritten by this change.
        """
        story = self._story(session, slug)
        found = possible_post_id(draft_id)
        draft = session.get(Draft, draft_id, with_for_update=lock) if found else None
        if (
            draft is None
            or draft.story_id != story.id
            or not (actor.role.is_editor or draft.author_id == actor.id)
        ):
            raise NotFound(N_("No draft with the id '%(id)s' in this story."), id=draft_id)
        return draft

    def list(self, actor: Actor, slug: str) -> list[dict[str, Any]]:
        """Return the story's unpublished drafts this actor may see, newest first."""
        with self.db.read() as session:
            story = self._story(session, slug)
            query = select(Draft).where(Draft.story_id == story.id, Draft.state.in_(OPEN))
            if not actor.role.is_editor:
                query = query.where(Draft.author_id == actor.id)
            drafts = session.scalars(query.order_by(Draft.updated_at.desc()).limit(200))
            return [draft_payload(d, slug) for d in drafts]

    def get(self, actor: Actor, slug: str, draft_id: str) -> dict[str, Any]:
        """Return one draft its author or an editor may see."""
        with self.db.read() as session:
            return draft_payload(self._visible(session, actor, slug, draft_id), slug)

    # -- writing ---------------------------------------------------------------------------

    def create(self, actor: Actor, slug: str, data: Any) -> dict[str, Any]:
        """Save a draft; `publish_at` schedules it, `submit` sends it for approval."""
        now = utcnow()
        change = parse_draft(data, actor.role, now, update=False)
        state = DraftState.DRAFT
        if change.submit:
            state = DraftState.PENDING
        elif change.publish_at_given and change.publish_at is not None:
            state = DraftState.SCHEDULED
        with self.db.write() as session:
            story = self._story(session, slug)
            draft = Draft(
                story_id=story.id,
                author_id=actor.id,
                payload=change.payload,
                state=state,
                publish_at=change.publish_at if state is DraftState.SCHEDULED else None,
                scheduled_by_id=actor.id if state is DraftState.SCHEDULED else None,
                reason="",
                created_at=now,
                updated_at=now,
                version=1,
            )
            session.add(draft)
            session.flush()
            return draft_payload(draft, slug)

    def submit(self, actor: Actor, slug: str, payload: Any) -> dict[str, Any]:
        """Save a post request as a submission waiting for an editor (contributors)."""
        return self.create(actor, slug, {"payload": payload, "submit": True})

    def update(self, actor: Actor, slug: str, draft_id: str, data: Any) -> dict[str, Any]:
        """Change a draft at the version the caller last saw; 409 with it as it is if stale."""
        now = utcnow()
        change = parse_draft(data, actor.role, now, update=True)
        with self.db.write() as session:
            draft = self._visible(session, actor, slug, draft_id, lock=True)
            if draft.state not in OPEN:
                raise Conflict(N_("This draft is already published."), code="draft_published")
            if draft.version != change.version:
                raise _stale(draft, slug)
            if change.payload_given:
                draft.payload = change.payload
                if draft.state is DraftState.REJECTED:
                    draft.state = DraftState.DRAFT
                if draft.state is DraftState.SCHEDULED and draft.scheduled_by_id != actor.id:
                    # New words are the scheduler's to publish only if they wrote them: a
                    # contributor's go back for approval, anyone else's publish as theirs.
                    if actor.role is Role.CONTRIBUTOR:
                        draft.state = DraftState.PENDING
                        draft.publish_at = draft.scheduled_by_id = None
                    else:
                        draft.scheduled_by_id = actor.id
            if change.publish_at_given:
                if draft.state is DraftState.PENDING and not actor.role.is_editor:
                    raise Conflict(
                        N_("This draft waits for an editor's approval."), code="draft_pending"
                    )
                draft.publish_at = change.publish_at
                draft.scheduled_by_id = actor.id if change.publish_at else None
                draft.state = DraftState.SCHEDULED if change.publish_at else DraftState.DRAFT
            if change.submit:
                draft.state = DraftState.PENDING
                draft.publish_at = draft.scheduled_by_id = None
            draft.version += 1
            draft.updated_at = now
            session.flush()
            return draft_payload(draft, slug)

    def delete(self, actor: Actor, slug: str, draft_id: str) -> None:
        """Throw a draft away (its author or an editor); a published one stays as a record."""
        with self.db.write() as session:
            draft = self._visible(session, actor, slug, draft_id, lock=True)
            if draft.state not in OPEN:
                raise Conflict(N_("This draft is already published."), code="draft_published")
            session.delete(draft)

    def reject(self, actor: Actor, slug: str, draft_id: str, data: Any) -> dict[str, Any]:
        """Send a submission back to its contributor with a reason (editors)."""
        version, reason = parse_reject(data)
        if not actor.role.is_editor:
            raise Forbidden(N_("Only editors may approve or reject submissions."))
        with self.db.write() as session:
            draft = self._visible(session, actor, slug, draft_id, lock=True)
            if draft.state is not DraftState.PENDING:
                raise Conflict(N_("This draft is not waiting for approval."), code="not_pending")
            if version is not None and draft.version != version:
                raise _stale(draft, slug)
            now = utcnow()
            draft.state = DraftState.REJECTED
            draft.reason = reason
            draft.reviewer_id, draft.reviewed_at = actor.id, now
            draft.version += 1
            draft.updated_at = now
            session.flush()
            return draft_payload(draft, slug)

    def publish(self, actor: Actor, slug: str, draft_id: str, data: Any) -> dict[str, Any]:
        """Publish a draft now; on a contributor's submission this is an editor's approval."""
        version = parse_publish(data)
        if actor.role is Role.CONTRIBUTOR:
            raise Forbidden(N_("Contributors submit drafts for an editor's approval."))
        with self.db.read() as session:
            draft = self._visible(session, actor, slug, draft_id)
            if draft.state not in OPEN:
                raise Conflict(N_("This draft is already published."), code="draft_published")
            if version is not None and draft.version != version:
                raise _stale(draft, slug)
            author = session.get(User, draft.author_id)
            assert author is not None
            if draft.author_id != actor.id and not actor.role.is_editor:
                raise NotFound(N_("No draft with the id '%(id)s' in this story."), id=draft_id)
        approval = author.role is Role.CONTRIBUTOR
        return self._publish(actor, slug, draft, OPEN, approval=approval)

    def _publish(
        self,
        actor: Actor,
        slug: str,
        draft: Draft,
        states: tuple[DraftState, ...],
        *,
        approval: bool,
    ) -> dict[str, Any]:
        """Create the post and claim the draft in one transaction."""
        seen = draft.version

        def claim(session: Session, story: Story, post: Post) -> None:
            now = utcnow()
            values: dict[str, Any] = {
                "state": DraftState.PUBLISHED,
                "post_id": post.id,
                "version": Draft.version + 1,
                "updated_at": now,
            }
            if approval:
                values.update(reviewer_id=actor.id, reviewed_at=now, reason="")
            claimed = session.execute(  # type: ignore[attr-defined]
                update(Draft)
                .where(
                    Draft.id == draft.id,
                    Draft.story_id == story.id,
                    Draft.state.in_(states),
                    Draft.version == seen,
                )
                .values(**values)
            ).rowcount
            if claimed != 1:
                raise Conflict(
                    N_("The draft was changed or published meanwhile."), code="draft_changed"
                )

        return self.posts.create_post(
            actor, slug, draft.payload, author_id=draft.author_id, claim=claim
        )

    # -- the scheduler's side --------------------------------------------------------------

    def publish_due(self, now: datetime | None = None, limit: int = 20) -> int:
        """Publish the scheduled drafts whose time has come; return how many were published.

        Each one is claimed in its post's transaction, so several schedulers (or one that
        was killed half-way and restarted) still publish it once. One that can no longer
        be published (the story ended, its follow-up target is gone) goes back to `draft`
        with the reason, for its author to see.
        """
        now = now or utcnow()
        with self.db.read() as session:
            due = session.execute(
                select(Draft, Story.slug)
                .join(Story, Story.id == Draft.story_id)
                .where(Draft.state == DraftState.SCHEDULED, Draft.publish_at <= now)
                .order_by(Draft.publish_at)
                .limit(limit)
            ).all()
            jobs = []
            for draft, slug in due:
                scheduler = session.get(User, draft.scheduled_by_id or draft.author_id)
                assert scheduler is not None
                actor = Actor(scheduler.id, scheduler.display_name, scheduler.role)
                allowed = scheduler.disabled_at is None and scheduler.role is not Role.CONTRIBUTOR
                author = session.get(User, draft.author_id)
                # An editor who scheduled a contributor's submission approved it.
                approval = author is not None and author.role is Role.CONTRIBUTOR
                jobs.append((draft, slug, actor, allowed, approval))
        published = 0
        for draft, slug, actor, allowed, approval in jobs:
            try:
                if not allowed:  # disabled or demoted since: their schedule no longer holds
                    raise Forbidden(N_("Whoever scheduled this draft may no longer publish."))
                self._publish(actor, slug, draft, (DraftState.SCHEDULED,), approval=approval)
            except Conflict as error:
                if error.code == "draft_changed":
                    continue  # someone else published, edited or cancelled it meanwhile
                self._give_back(draft, error)
            except LiveblogError as error:
                self._give_back(draft, error)
            else:
                published += 1
        return published

    def _give_back(self, draft: Draft, error: LiveblogError) -> None:
        """Return a scheduled draft that cannot be published to its author, saying why."""
        with self.db.write() as session:
            session.execute(
                update(Draft)
                .where(
                    Draft.id == draft.id,
                    Draft.state == DraftState.SCHEDULED,
                    Draft.version == draft.version,
                )
                .values(
                    state=DraftState.DRAFT,
                    reason=str(error),
                    version=Draft.version + 1,
                    updated_at=utcnow(),
                )
            )
