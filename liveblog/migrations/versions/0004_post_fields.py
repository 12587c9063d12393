"""post fields: format and source, headline, co-authors

Revision ID: 0004_post_fields
Revises: 0003_trust
Create Date: 2026-12-06 05:00:00

Posts (and their revisions) keep what the reporter wrote (`source`) and how (`format`),
next to the sanitized HTML (`body`), and an optional plain-text `headline`. Earlier posts
were stored as HTML only: their source is their body, their format "html".
`post_coauthors` holds the further names of a post's byline, in order.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_post_fields"
down_revision: str | None = "0003_trust"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLES = ("posts", "post_revisions")


def upgrade() -> None:
    """Apply this migration."""
    for table in _TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(
                sa.Column("format", sa.String(length=16), nullable=False, server_default="html")
            )
            batch_op.add_column(sa.Column("source", sa.Text(), nullable=False, server_default=""))
            batch_op.add_column(
                sa.Column("headline", sa.String(length=200), nullable=False, server_default="")
            )
        rows = sa.table(table, sa.column("body"), sa.column("source"))
        op.get_bind().execute(rows.update().values(source=rows.c.body))

    op.create_table(
        "post_coauthors",
        sa.Column("post_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["post_id"],
            ["posts.id"],
            name=op.f("fk_post_coauthors_post_id_posts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_post_coauthors_user_id_users")
        ),
        sa.PrimaryKeyConstraint("post_id", "user_id", name=op.f("pk_post_coauthors")),
    )


def downgrade() -> None:
    """Revert this migration."""
    op.drop_table("post_coauthors")
    for table in reversed(_TABLES):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("headline")
            batch_op.drop_column("source")
            batch_op.drop_column("format")
