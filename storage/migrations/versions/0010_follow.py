"""Following: the catalog keeps up with its sources, and members' copies with the catalog.

- `catalog_playlists`: when the source was last checked and last changed, what the last
  change was (+added, -removed), and why following is paused (NULL: following).
- `catalog_previous`: the entry's songs (by URI, in order) as they were before the read
  in progress, so the change is measured against the last complete read even across a
  crash or a failed re-read.
- `guild_follow_pauses`: servers whose managers paused following (no entry of theirs is
  checked until they resume).
- `imports.follow`: the member asked that their copy follow the entry;
  `imports.follow_update`: the import was started by a change of the entry, not by the
  member (it posts no progress message of its own).

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("catalog_playlists") as batch:
        batch.add_column(sa.Column("checked_at", UTC_TIMESTAMP, nullable=True))
        batch.add_column(sa.Column("changed_at", UTC_TIMESTAMP, nullable=True))
        batch.add_column(sa.Column("change_added", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("change_removed", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("change_moved", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("follow_paused_reason", sa.Text(), nullable=True))
    with op.batch_alter_table("imports") as batch:
        batch.add_column(
            sa.Column("follow", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(
            sa.Column("follow_update", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.create_table(
        "catalog_previous",
        sa.Column(
            "playlist_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("position", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("song", sa.String(255), nullable=False),
        sa.ForeignKeyConstraint(
            ["playlist_id"],
            ["catalog_playlists.id"],
            name="fk_catalog_previous_playlist_id_catalog_playlists",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("playlist_id", "position", name="pk_catalog_previous"),
    )
    op.create_table(
        "guild_follow_pauses",
        sa.Column("guild_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("paused_by", sa.BigInteger(), nullable=False),
        sa.Column("paused_at", UTC_TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("guild_id", name="pk_guild_follow_pauses"),
    )


def downgrade() -> None:
    op.drop_table("guild_follow_pauses")
    op.drop_table("catalog_previous")
    with op.batch_alter_table("imports") as batch:
        batch.drop_column("follow_update")
        batch.drop_column("follow")
    with op.batch_alter_table("catalog_playlists") as batch:
        batch.drop_column("follow_paused_reason")
        batch.drop_column("change_moved")
        batch.drop_column("change_removed")
        batch.drop_column("change_added")
        batch.drop_column("changed_at")
        batch.drop_column("checked_at")
