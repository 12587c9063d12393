"""The one write path: validate, check the role, write the change and its event, then publish.

Imports nothing from Flask. Each change takes the next `seq` of its story by bumping
`stories.last_seq` as its first statement: that row lock (PostgreSQL) or write lock
(SQLite, BEGIN IMMEDIATE) orders all writers of a story, and a refused or failed change
rolls the bump back with everything else, so the log has no gaps and no repeats.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from . import verdicts
from .bylines import set_coauthors
from .db import Database
from .errors import N_, Conflict, Forbidden, NotFound
from .models import (
    Correction,
    EventType,
    Post,
    Role,
    Story,
    StoryStatus,
    utcnow,
)
from .payloads import post_payload, rfc3339, writer_payload
from .takedown import erase_text, scrub_events
from .validation import (
    parse_post_create,
    parse_post_update,
    parse_story_create,
    parse_story_update,
    parse_takedown,
    slugify,
)
from .writes import append_event, bump, earlier_post, live_post, revise

Publish = Callable[[str, int, str], None]
"""Hand a committed event to the fan-out: (story slug, seq, JSON frame)."""

Claim = Callable[[Session, Story, Post], None]
"""Run inside a new post's transaction (e.g. mark its draft published); raising undoes all."""


@dataclass(frozen=True)
class Actor:
    """Who is making a change."""

    id: int
    name: str
    role: Role


class _NoChange(Exception):
    """Raised inside a write to roll it back when the request changes nothing."""

    def __init__(self, result: Any) -> None:
        self.result = result


def _require_editor(actor: Actor) -> None:
    if not actor.role.is_editor:
        raise Forbidden(N_("Only editors may do this."))


class StoryService:
    """Every change to stories and posts goes through here."""

    def __init__(self, db: Database, publish: Publish) -> None:
        self.db = db
        self.publish = publish

    # -- stories -------------------------------------------------------------------------

    def create_story(
        self, actor: Actor, data: Any, *, created_at: datetime | None = None
    ) -> Story:
        """Open a new live story; it starts with an empty log (`last_seq` 0)."""
        req = parse_story_create(data)
        _require_editor(actor)
        with self.db.write() as session:
            if req.slug is not None:
                if self._slug_taken(session, req.slug):
                    raise Conflict(
                        N_("The slug '%(slug)s' is taken."), code="slug_taken", slug=req.slug
                    )
                slug = req.slug
            else:
                slug = self._free_slug(session, slugify(req.title))
            story = Story(
                slug=slug,
                title=req.title,
                summary=req.summary,
                language=req.language,
                timezone=req.timezone,
                status=StoryStatus.LIVE,
                last_seq=0,
                created_by_id=actor.id,
                created_at=created_at or utcnow(),
                updated_at=created_at or utcnow(),
            )
            session.add(story)
            try:
                session.flush()
            except IntegrityError:
                raise Conflict(
                    N_("The slug '%(slug)s' is taken."), code="slug_taken", slug=slug
                ) from None
        return story

    def update_story(
        self, actor: Actor, slug: str, data: Any, *, at: datetime | None = None
    ) -> Story:
        """Change a story's title, summary or status; ending it stamps `ended_at` (now or `at`)."""
        req = parse_story_update(data)
        _require_editor(actor)
        try:
            with self.db.write() as session:
                seq, story = bump(session, slug)
                frame = self._change_story(session, story, seq, req, at or utcnow())
        except _NoChange:
            with self.db.read() as session:  # nothing changed: answer with the story as it is
                unchanged = session.scalar(select(Story).where(Story.slug == slug))
                assert unchanged is not None
                return unchanged
        self.publish(story.slug, seq, frame)
        return story

    def _change_story(
        self, session: Session, story: Story, seq: int, req: Any, now: datetime
    ) -> str:
        values: dict[str, Any] = {}
        if req.title is not None and req.title != story.title:
            story.title = values["title"] = req.title
        if req.summary is not None and req.summary != story.summary:
            story.summary = values["summary"] = req.summary
        if req.known is not None and req.known != story.known:
            story.known = values["known"] = req.known
        if req.unknown is not None and req.unknown != story.unknown:
            story.unknown = values["unknown"] = req.unknown
        if req.status is not None and req.status != story.status:
            story.status = req.status
            story.ended_at = now if req.status is StoryStatus.ENDED else None
            values["status"] = req.status.value
            values["ended_at"] = rfc3339(story.ended_at)
        if not values:
            raise _NoChange(None)
        changes = [k for k in ("title", "summary", "status", "known", "unknown") if k in values]
        return append_event(
            session, story, seq, EventType.STORY_UPDATED, now, changes=changes, values=values
        )

    # -- posts ---------------------------------------------------------------------------

    def create_post(
        self,
        actor: Actor,
        slug: str,
        data: Any,
        *,
        published_at: datetime | None = None,
        author_id: int | None = None,
        claim: Claim | None = None,
    ) -> dict[str, Any]:
        """Publish a new post in a live story.

        From a draft (`drafts.py`): `author_id` names its author when an editor publishes
        it, and `claim` marks the draft published in the same transaction, so it is
        published exactly once.
        """
        req = parse_post_create(data)
        if actor.role is Role.CONTRIBUTOR and claim is None:
            raise Forbidden(N_("Contributors submit drafts for an editor's approval."))
        verdicts.check_new(req.verification.status, is_editor=actor.role.is_editor)
        if req.pinned and not actor.role.is_editor:
            raise Forbidden(N_("Only editors may pin posts."))
        with self.db.write() as session:
            seq, story = bump(session, slug)
            if story.status is StoryStatus.ENDED:
                raise Conflict(N_("Coverage of this story has ended."), code="story_ended")
            now = published_at or utcnow()
            post = Post(
                story_id=story.id,
                author_id=actor.id if author_id is None else author_id,
                body=req.body.html,
                format=req.body.format,
                source=req.body.source,
                headline=req.headline,
                verification_history=[],
                pinned=req.pinned,
                key_event=req.key_event,
                version=1,
                published_at=now,
                updated_at=now,
                created_seq=seq,
                last_seq=seq,
            )
            if req.resolves is not None:
                post.resolves_id = earlier_post(session, story, req.resolves, seq).id
            verdicts.record(
                post,
                req.verification.status,
                req.verification.note,
                now,
                by_editor=actor.role.is_editor,
            )
            session.add(post)
            session.flush()
            set_coauthors(session, post, req.coauthors)
            if claim is not None:
                claim(session, story, post)
            revise(session, post, actor.id, "created", now)
            payload = post_payload(post, story.slug)
            frame = append_event(
                session, story, seq, EventType.POST_CREATED, now, post=payload, post_id=post.id
            )
            answer = writer_payload(post, story.slug)
        self.publish(story.slug, seq, frame)
        return answer

    def update_post(
        self, actor: Actor, slug: str, post_id: str, data: Any, *, at: datetime | None = None
    ) -> dict[str, Any]:
        """Edit, re-verify, pin or correct a post at the version the caller last saw."""
        req = parse_post_update(data)
        if actor.role is Role.CONTRIBUTOR:
            raise Forbidden(N_("Contributors may not change published posts."))
        try:
            with self.db.write() as session:
                seq, story = bump(session, slug)
                post = live_post(session, story, post_id)
                if not actor.role.is_editor and post.author_id != actor.id:
                    raise Forbidden(N_("Reporters may edit only their own posts."))
                if post.version != req.version:
                    error = Conflict(
                        N_("The post was changed meanwhile: it is at version %(current)d."),
                        code="stale_version",
                        current=post.version,
                    )
                    error.details = {"current": writer_payload(post, story.slug)}
                    raise error
                now = at or utcnow()
                changes = self._apply(post, req, actor, now)
                if req.coauthors is not None and set_coauthors(session, post, req.coauthors):
                    changes.append("coauthors")
                if req.resolves_given and req.resolves != post.resolves_id:
                    target = req.resolves and earlier_post(
                        session, story, req.resolves, post.created_seq
                    )
                    post.resolves_id = target.id if target else None
                    changes.append("resolves")
                if not changes:
                    raise _NoChange(writer_payload(post, story.slug))
                post.version += 1
                post.updated_at = now
                post.last_seq = seq
                session.flush()
                revise(session, post, actor.id, ",".join(changes), now)
                payload = post_payload(post, story.slug)
                frame = append_event(
                    session,
                    story,
                    seq,
                    EventType.POST_UPDATED,
                    now,
                    post=payload,
                    changes=changes,
                    post_id=post.id,
                )
                answer = writer_payload(post, story.slug)
        except _NoChange as unchanged:
            return unchanged.result  # type: ignore[no-any-return]
        self.publish(story.slug, seq, frame)
        return answer

    def delete_post(self, actor: Actor, slug: str, post_id: str, data: Any = None) -> None:
        """Take a post down from every public place, the log's replays included.

        Its id is never reused; its private history keeps who deleted it, when and why.
        """
        reason = parse_takedown(data, reason_required=False)
        _require_editor(actor)
        with self.db.write() as session:
            seq, story = bump(session, slug)
            post = live_post(session, story, post_id)
            frame = self._take_down(session, story, seq, post, actor, reason)
        self.publish(story.slug, seq, frame)

    def purge_post(self, actor: Actor, slug: str, post_id: str, data: Any) -> None:
        """Erase a post's text from its private history too (admins, for legal takedowns).

        A post still up is taken down in the same transaction (one `post.deleted` event);
        purging a post already down changes nothing public, so it appends no event.
        """
        reason = parse_takedown(data, reason_required=True)
        if actor.role is not Role.ADMIN:
            raise Forbidden(N_("Only admins may erase a post's history."))
        published: tuple[int, str] | None = None
        with self.db.write() as session:
            story = session.scalar(select(Story).where(Story.slug == slug))
            post = session.get(Post, post_id) if story is not None else None
            if story is None or post is None or post.story_id != story.id:
                raise NotFound(N_("No post with the id '%(id)s' in this story."), id=post_id)
            was_up = post.deleted_at is None
            if was_up:  # the story's lock first, as every writer takes it, then the post
                seq, story = bump(session, slug)
            session.refresh(post, with_for_update=True)
            if post.purged_at is not None:
                raise Conflict(N_("This post's text is already erased."), code="already_purged")
            if was_up != (post.deleted_at is None):
                raise Conflict(N_("The post was changed meanwhile. Try again."), code="changed")
            now = utcnow()
            if was_up:
                published = seq, self._take_down(session, story, seq, post, actor, reason)
            erase_text(session, post)
            post.purged_at = now
            post.version += 1
            revise(session, post, actor.id, "purged", now, reason=reason)
        if published is not None:
            self.publish(story.slug, *published)

    def _take_down(
        self, session: Session, story: Story, seq: int, post: Post, actor: Actor, reason: str
    ) -> str:
        """Mark a post deleted, scrub its earlier events, and append `post.deleted`."""
        now = utcnow()
        post.deleted_at = now
        post.last_seq = seq
        post.version += 1
        revise(session, post, actor.id, "deleted", now, reason=reason)
        scrub_events(session, story.id, post.id)
        # Follow-ups of a post that is gone no longer point at it.
        session.execute(update(Post).where(Post.resolves_id == post.id).values(resolves_id=None))
        return append_event(
            session, story, seq, EventType.POST_DELETED, now, post={"id": post.id}, post_id=post.id
        )

    # -- helpers -------------------------------------------------------------------------

    @staticmethod
    def _slug_taken(session: Session, slug: str) -> bool:
        return session.scalar(select(Story.id).where(Story.slug == slug)) is not None

    def _free_slug(self, session: Session, base: str) -> str:
        slug, n = base, 1
        while self._slug_taken(session, slug):
            n += 1
            suffix = f"-{n}"
            slug = base[: 80 - len(suffix)].rstrip("-") + suffix
        return slug

    @staticmethod
    def _apply(post: Post, req: Any, actor: Actor, now: datetime) -> list[str]:
        changes: list[str] = []
        body_changed = req.body is not None and req.body.html != post.body
        # The verdict rules run before anything is written: a refusal changes nothing.
        verification_changed = verdicts.apply(
            post,
            body_changed=body_changed,
            wanted=req.verification,
            is_editor=actor.role.is_editor,
            at=now,
        )
        if body_changed:  # judged by the HTML: a source that renders the same changes nothing
            post.body, post.format, post.source = req.body.html, req.body.format, req.body.source
            post.body_edited_at = now
            changes.append("body")
        if req.headline is not None and req.headline != post.headline:
            post.headline = req.headline
            changes.append("headline")
        if verification_changed:
            changes.append("verification")
        if req.pinned is not None and req.pinned != post.pinned:
            if not actor.role.is_editor:
                raise Forbidden(N_("Only editors may pin posts."))
            post.pinned = req.pinned
            changes.append("pinned")
        if req.key_event is not None and req.key_event != post.key_event:
            post.key_event = req.key_event
            changes.append("key_event")
        if req.correction is not None:
            post.corrections.append(Correction(note=req.correction, at=now))
            changes.append("corrections")
        return changes
