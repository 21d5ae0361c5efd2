"""At most one active import per member, guild and catalog playlist, enforced by the database.

A check before the insert is not enough on PostgreSQL: two `/import` clicks at the same
instant both pass it. A partial unique index over the active states makes the second insert
fail on both databases. Active duplicates left by that race are ended first (the newer ones,
with a reason), so the index can be built on an existing database.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTIVE = "status IN ('queued', 'running', 'paused')"
INDEX = "uq_imports_one_active"
DUPLICATE = "Ended: another import of this playlist by the same member was already active."


def upgrade() -> None:
    """End active duplicates (all but the oldest), then add the partial unique index."""
    imports = sa.table(
        "imports",
        sa.column("id", sa.BigInteger()),
        sa.column("guild_id", sa.BigInteger()),
        sa.column("discord_user_id", sa.BigInteger()),
        sa.column("catalog_playlist_id", sa.BigInteger()),
        sa.column("status", sa.String(16)),
        sa.column("error", sa.Text()),
        sa.column("finished_at", sa.DateTime(timezone=True)),
    )
    older = imports.alias("older")
    active = sa.text(ACTIVE)
    has_older = (
        sa.select(sa.literal(1))
        .select_from(older)
        .where(
            older.c.discord_user_id == imports.c.discord_user_id,
            older.c.guild_id == imports.c.guild_id,
            older.c.catalog_playlist_id == imports.c.catalog_playlist_id,
            older.c.status.in_(("queued", "running", "paused")),
            older.c.id < imports.c.id,
        )
        .exists()
    )
    op.execute(
        imports.update()
        .where(active, has_older)
        .values(status="failed", error=DUPLICATE, finished_at=datetime.now(UTC))
    )
    op.create_index(
        INDEX,
        "imports",
        ["discord_user_id", "guild_id", "catalog_playlist_id"],
        unique=True,
        sqlite_where=active,
        postgresql_where=active,
    )


def downgrade() -> None:
    op.drop_index(INDEX, table_name="imports")
