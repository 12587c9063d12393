"""partner keys: read-only keys for the feeds and events, and their daily usage

Revision ID: 0007_partner_keys
Revises: 0006_webhooks
Create Date: 2026-12-06 05:00:00

A partner key is stored as the SHA-256 of its secret with its own rate limit; usage is
counted per key, UTC day and kind of endpoint (written in batches, never per request).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import liveblog.models

revision: str = "0007_partner_keys"
down_revision: str | None = "0006_webhooks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this migration."""
    op.create_table(
        "partner_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("rate_per_minute", sa.Integer(), nullable=False),
        sa.Column("created_at", liveblog.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", liveblog.models.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partner_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_partner_keys_key_hash")),
    )
    with op.batch_alter_table("partner_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_partner_keys_name"), ["name"], unique=False)

    op.create_table(
        "partner_key_usage",
        sa.Column("key_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["key_id"],
            ["partner_keys.id"],
            name=op.f("fk_partner_key_usage_key_id_partner_keys"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("key_id", "day", "kind", name=op.f("pk_partner_key_usage")),
    )


def downgrade() -> None:
    """Revert this migration."""
    op.drop_table("partner_key_usage")
    with op.batch_alter_table("partner_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_partner_keys_name"))
    op.drop_table("partner_keys")
