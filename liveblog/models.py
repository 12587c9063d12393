"""Database models for stories, posts, their revisions, users, tokens and the event log.

This module does no I/O and imports nothing from Flask.
"""

from __future__ import annotations

import enum
import secrets
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Date,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    """Return the current time as an aware UTC datetime."""
    return datetime.now(UTC)


def new_post_id() -> str:
    """Return a fresh opaque post id (16 lowercase base32 characters, never reused)."""
    alphabet = "abcdefghijkmnpqrstuvwxyz23456789"
    return "".join(secrets.choice(alphabet) for _ in range(16))


class UTCDateTime(TypeDecorator[datetime]):
    """Store aware datetimes as UTC and always load them back as aware UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Refuse naive datetimes and normalize aware ones to UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use an aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Attach UTC to what the database returns."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Role(enum.StrEnum):
    """What a user may do (contract section 2)."""

    REPORTER = "reporter"
    EDITOR = "editor"
    ADMIN = "admin"
    #: Stringers: below reporter; their posts wait as drafts for an editor's approval.
    CONTRIBUTOR = "contributor"

    @property
    def is_editor(self) -> bool:
        """Tell whether this role has the editor's powers."""
        return self in (Role.EDITOR, Role.ADMIN)


class Verification(enum.StrEnum):
    """How far the desk has checked a post's claims."""

    UNVERIFIED = "unverified"
    CONFIRMED = "confirmed"
    DISPUTED = "disputed"
    FALSE = "false"

    @property
    def needs_editor(self) -> bool:
        """Tell whether only an editor may set this status."""
        return self in (Verification.CONFIRMED, Verification.FALSE)


class DraftState(enum.StrEnum):
    """Where a draft stands; only `published` ever reaches readers (as a new post)."""

    DRAFT = "draft"
    SCHEDULED = "scheduled"
    PENDING = "pending"  # a contributor's submission, waiting for an editor
    REJECTED = "rejected"
    PUBLISHED = "published"


class StoryStatus(enum.StrEnum):
    """Whether coverage of a story goes on."""

    LIVE = "live"
    ENDED = "ended"


class EventType(enum.StrEnum):
    """The kinds of entries in a story's event log."""

    POST_CREATED = "post.created"
    POST_UPDATED = "post.updated"
    POST_DELETED = "post.deleted"
    STORY_UPDATED = "story.updated"


def _enum(cls: type[enum.StrEnum], name: str) -> Enum:
    return Enum(
        cls,
        name=name,
        native_enum=False,
        validate_strings=True,
        length=16,
        values_callable=lambda members: [m.value for m in members],
    )


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base with a stable constraint naming scheme for migrations."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: dict[Any, Any] = {datetime: UTCDateTime()}


class User(Base):
    """A member of the newsroom."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(120))
    role: Mapped[Role] = mapped_column(_enum(Role, "role"))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: Set when an admin disables the account: no sign-in, no session, no token works.
    disabled_at: Mapped[datetime | None]

    tokens: Mapped[list[ApiToken]] = relationship(back_populates="user")


class ApiToken(Base):
    """An API token; only the SHA-256 of the secret is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]
    #: When the token last authenticated a request (kept to the minute).
    last_used_at: Mapped[datetime | None]

    user: Mapped[User] = relationship(back_populates="tokens")


class DeskSession(Base):
    """A signed-in desk session; the cookie holds its secret, the row only its SHA-256.

    Signing out, disabling the user or an admin's revoke deletes the row, so the old cookie
    no longer works anywhere.
    """

    __tablename__ = "desk_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]


class LoginAttempt(Base):
    """One fixed-window counter of sign-in attempts (used when there is no Redis)."""

    __tablename__ = "login_attempts"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class PartnerKey(Base):
    """A partner's read-only key for the feeds and events; only its SHA-256 is stored."""

    __tablename__ = "partner_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: Requests a minute this key may make, over every feed and the events endpoint.
    rate_per_minute: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]


class PartnerKeyUsage(Base):
    """How many requests a partner key made on one UTC day to one kind of endpoint."""

    __tablename__ = "partner_key_usage"

    key_id: Mapped[int] = mapped_column(
        ForeignKey("partner_keys.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)


class Story(Base):
    """A developing story: the live blog readers follow."""

    __tablename__ = "stories"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text, default="")
    language: Mapped[str] = mapped_column(String(8))
    timezone: Mapped[str] = mapped_column(String(64))
    status: Mapped[StoryStatus] = mapped_column(
        _enum(StoryStatus, "story_status"), default=StoryStatus.LIVE
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None]
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # The editors' own wording of the "what we know / what we don't know yet" box.
    known: Mapped[str] = mapped_column(Text, default="")
    unknown: Mapped[str] = mapped_column(Text, default="")


class Post(Base):
    """One update in a story; deleted posts stay as tombstones so ids are never reused."""

    __tablename__ = "posts"
    __table_args__ = (Index("ix_posts_story_order", "story_id", "created_seq"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_post_id)
    story_id: Mapped[int] = mapped_column(ForeignKey("stories.id", ondelete="CASCADE"))
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    body: Mapped[str] = mapped_column(Text)
    # What the reporter wrote, in which format (`formats.TextFormat`); `body` is its HTML.
    format: Mapped[str] = mapped_column(String(16), default="html")
    source: Mapped[str] = mapped_column(Text, default="")
    headline: Mapped[str] = mapped_column(String(200), default="")  # plain text; "" for none
    verification: Mapped[Verification] = mapped_column(
        _enum(Verification, "verification"), default=Verification.UNVERIFIED
    )
    verification_note: Mapped[str] = mapped_column(Text, default="")
    # True when an editor set the current status: a reporter may not change it then.
    verification_by_editor: Mapped[bool] = mapped_column(default=False)
    # The public verification timeline: [{"status", "note", "at"}], oldest first.
    verification_history: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    # The earlier post of the same story whose claim this one follows up.
    resolves_id: Mapped[str | None] = mapped_column(ForeignKey("posts.id", ondelete="SET NULL"))
    pinned: Mapped[bool] = mapped_column(default=False)
    key_event: Mapped[bool] = mapped_column(default=False)
    version: Mapped[int] = mapped_column(Integer, default=1)
    published_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    body_edited_at: Mapped[datetime | None]
    deleted_at: Mapped[datetime | None]
    purged_at: Mapped[datetime | None]
    created_seq: Mapped[int] = mapped_column(Integer)
    last_seq: Mapped[int] = mapped_column(Integer)

    story: Mapped[Story] = relationship()
    author: Mapped[User] = relationship()
    corrections: Mapped[list[Correction]] = relationship(
        order_by="Correction.id", cascade="all, delete-orphan"
    )
    coauthor_links: Mapped[list[PostCoauthor]] = relationship(
        order_by="PostCoauthor.position", cascade="all, delete-orphan"
    )
    followups: Mapped[list[Post]] = relationship(
        primaryjoin=(
            "and_(Post.id == remote(foreign(Post.resolves_id)), remote(Post.deleted_at).is_(None))"
        ),
        order_by="Post.created_seq",
        viewonly=True,
    )


class PostCoauthor(Base):
    """One more name on a post's byline, after its author, in the order given."""

    __tablename__ = "post_coauthors"

    post_id: Mapped[str] = mapped_column(
        ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)

    user: Mapped[User] = relationship()


class Correction(Base):
    """A visible correction notice appended to a post."""

    __tablename__ = "corrections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    post_id: Mapped[str] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"), index=True)
    note: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class PostRevision(Base):
    """One version of a post as it stood after a change: what, who and when."""

    __tablename__ = "post_revisions"
    __table_args__ = (UniqueConstraint("post_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    post_id: Mapped[str] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text)
    format: Mapped[str] = mapped_column(String(16), default="html")
    source: Mapped[str] = mapped_column(Text, default="")
    headline: Mapped[str] = mapped_column(String(200), default="")
    verification: Mapped[Verification] = mapped_column(_enum(Verification, "verification"))
    verification_note: Mapped[str] = mapped_column(Text, default="")
    pinned: Mapped[bool]
    key_event: Mapped[bool]
    changes: Mapped[str] = mapped_column(String(200), default="")
    reason: Mapped[str] = mapped_column(Text, default="")  # why (deletions and purges)
    editor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    editor: Mapped[User] = relationship()


class Event(Base):
    """One entry of a story's ordered event log; `payload` is the JSON frame sent to readers."""

    __tablename__ = "events"
    __table_args__ = (
        UniqueConstraint("story_id", "seq"),
        Index("ix_events_story_post", "story_id", "post_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    story_id: Mapped[int] = mapped_column(ForeignKey("stories.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    type: Mapped[EventType] = mapped_column(_enum(EventType, "event_type"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    payload: Mapped[str] = mapped_column(Text)
    post_id: Mapped[str | None] = mapped_column(String(32))  # the post it is about, if any


class Draft(Base):
    """A post not yet published: private to its author and the editors, never in the log.

    `payload` is the JSON a `POST .../posts` takes, validated when saved; publishing hands
    it to the one write path, which claims the draft in the same transaction.
    """

    __tablename__ = "drafts"
    __table_args__ = (
        Index("ix_drafts_story_state", "story_id", "state"),
        Index("ix_drafts_due", "state", "publish_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_post_id)
    story_id: Mapped[int] = mapped_column(ForeignKey("stories.id", ondelete="CASCADE"))
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[DraftState] = mapped_column(_enum(DraftState, "draft_state"))
    #: When the scheduler publishes it (state `scheduled`), and who set that time.
    publish_at: Mapped[datetime | None]
    scheduled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: The audit trail of an approval or rejection: who, when and (rejections) why.
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reviewed_at: Mapped[datetime | None]
    reason: Mapped[str] = mapped_column(Text, default="")
    post_id: Mapped[str | None] = mapped_column(String(32))  # the post it became
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    story: Mapped[Story] = relationship()
    author: Mapped[User] = relationship(foreign_keys=[author_id])
    reviewer: Mapped[User | None] = relationship(foreign_keys=[reviewer_id])


class WebhookState(enum.StrEnum):
    """Whether the dispatcher delivers to a webhook endpoint."""

    ACTIVE = "active"
    PAUSED = "paused"


class Webhook(Base):
    """A partner's endpoint: every event of one story (or of all) is POSTed to `url`.

    `secret` holds the signing secret encrypted with a key derived from the app's secret
    key (`liveblog.webhooks`): it must be kept, since every delivery is signed with it.
    """

    __tablename__ = "webhooks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url: Mapped[str] = mapped_column(String(2000))
    story_id: Mapped[int | None] = mapped_column(
        ForeignKey("stories.id", ondelete="CASCADE"), index=True
    )
    secret: Mapped[str] = mapped_column(Text)
    state: Mapped[WebhookState] = mapped_column(
        _enum(WebhookState, "webhook_state"), default=WebhookState.ACTIVE
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(64), default="")
    #: Set at the first failure in a row; cleared by a delivery that succeeds.
    failing_since: Mapped[datetime | None]
    failures: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    paused_at: Mapped[datetime | None]
    pause_reason: Mapped[str] = mapped_column(Text, default="")

    story: Mapped[Story | None] = relationship()


class WebhookCursor(Base):
    """The last seq of a story delivered to an endpoint (2xx): the log is the queue."""

    __tablename__ = "webhook_cursors"

    webhook_id: Mapped[int] = mapped_column(
        ForeignKey("webhooks.id", ondelete="CASCADE"), primary_key=True
    )
    story_id: Mapped[int] = mapped_column(
        ForeignKey("stories.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer, default=0)


class WebhookAttempt(Base):
    """One delivery attempt, kept for the delivery log (the newest few per endpoint)."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (Index("ix_webhook_attempts_webhook", "webhook_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"))
    slug: Mapped[str] = mapped_column(String(80))
    seq: Mapped[int] = mapped_column(Integer)
    status: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str] = mapped_column(Text, default="")
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    at: Mapped[datetime] = mapped_column(default=utcnow)
