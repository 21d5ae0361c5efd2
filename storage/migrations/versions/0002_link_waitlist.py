"""Link waitlist: members Spotify refused because the app is in development mode.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25

Types are spelled out here (not imported from storage.models), as in 0001.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create `link_waitlist` and its guild index."""
    op.create_table(
        "link_waitlist",
        sa.Column("discord_user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=True),
        sa.Column("display_name", sa.Text(), nullable=True),
        sa.Column("first_refused_at", UTC_TIMESTAMP, nullable=False),
        sa.Column("last_refused_at", UTC_TIMESTAMP, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("discord_user_id", name=op.f("pk_link_waitlist")),
    )
    op.create_index(op.f("ix_link_waitlist_guild_id"), "link_waitlist", ["guild_id"])


def downgrade() -> None:
    """Drop the table (its index goes with it)."""
    op.drop_table("link_waitlist")
