"""trust: verdict binding, verification history, follow-ups, takedown scrubbing, briefing

Revision ID: 0003_trust
Revises: 0002_accounts
Create Date: 2026-12-06 02:20:00

Posts learn who set their status (`verification_by_editor`), their public verification
timeline (`verification_history`), the earlier post they follow up (`resolves_id`) and
whether a takedown erased their text (`purged_at`). Events name the post they are about
(`post_id`), so a deletion can scrub that post's earlier events; revisions keep why
(`reason`). Stories get the editors' wording of "what we know / what we don't know yet".
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import liveblog.models
from liveblog.payloads import rfc3339

revision: str = "0003_trust"
down_revision: str | None = "0002_accounts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this migration."""
    with op.batch_alter_table("stories", schema=None) as batch_op:
        batch_op.add_column(sa.Column("known", sa.Text(), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("unknown", sa.Text(), nullable=False, server_default=""))

    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "verification_by_editor",
                sa.Boolean(),
                nullable=False,
                server_default=sa.false(),
            )
        )
        batch_op.add_column(
            sa.Column("verification_history", sa.JSON(), nullable=False, server_default="[]")
        )
        batch_op.add_column(sa.Column("resolves_id", sa.String(length=32), nullable=True))
        batch_op.add_column(
            sa.Column("purged_at", liveblog.models.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_posts_resolves_id_posts"),
            "posts",
            ["resolves_id"],
            ["id"],
            ondelete="SET NULL",
        )

    with op.batch_alter_table("post_revisions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reason", sa.Text(), nullable=False, server_default=""))

    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("post_id", sa.String(length=32), nullable=True))
        batch_op.create_index("ix_events_story_post", ["story_id", "post_id"], unique=False)

    _backfill()


def _backfill() -> None:
    """Name each post event's post, and start each post's timeline from its current status."""
    conn = op.get_bind()
    events = sa.table(
        "events", sa.column("id"), sa.column("type"), sa.column("payload"), sa.column("post_id")
    )
    rows = conn.execute(
        sa.select(events.c.id, events.c.payload).where(events.c.type.like("post.%"))
    ).all()
    for event_id, payload in rows:
        post_id = (json.loads(payload).get("post") or {}).get("id")
        if isinstance(post_id, str):
            conn.execute(events.update().where(events.c.id == event_id).values(post_id=post_id))
    posts = sa.table(
        "posts",
        sa.column("id"),
        sa.column("verification"),
        sa.column("verification_note"),
        sa.column("published_at", liveblog.models.UTCDateTime(timezone=True)),
        sa.column("verification_history", sa.JSON()),
        sa.column("verification_by_editor", sa.Boolean()),
    )
    # Only editors could ever set these two: they were an editor's verdict.
    conn.execute(
        posts.update()
        .where(posts.c.verification.in_(("confirmed", "false")))
        .values(verification_by_editor=True)
    )
    for post_id, status, note, published in conn.execute(
        sa.select(posts.c.id, posts.c.verification, posts.c.verification_note, posts.c.published_at)
    ).all():
        history = [{"status": status, "note": note, "at": rfc3339(published)}]
        conn.execute(
            posts.update().where(posts.c.id == post_id).values(verification_history=history)
        )


def downgrade() -> None:
    """Revert this migration."""
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_story_post")
        batch_op.drop_column("post_id")
    with op.batch_alter_table("post_revisions", schema=None) as batch_op:
        batch_op.drop_column("reason")
    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_posts_resolves_id_posts"), type_="foreignkey")
        batch_op.drop_column("purged_at")
        batch_op.drop_column("resolves_id")
        batch_op.drop_column("verification_history")
        batch_op.drop_column("verification_by_editor")
    with op.batch_alter_table("stories", schema=None) as batch_op:
        batch_op.drop_column("unknown")
        batch_op.drop_column("known")
