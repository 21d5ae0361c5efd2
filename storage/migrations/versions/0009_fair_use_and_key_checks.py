"""Fair use and key checks.

- `catalog_playlists` remembers the progress message of its latest share, so a second
  /share while one is being read points to it instead of starting another read.
- `imports.ledger_pruned_at`: the retention period removed the import's ledger (its
  counters stay); `finished_at` is indexed for that sweep.
- `key_checks`: one row per encryption key tokens may be encrypted under, holding a known
  text encrypted with it; a process missing one of those keys refuses to start.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("catalog_playlists") as batch:
        batch.add_column(sa.Column("share_channel_id", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("share_message_id", sa.BigInteger(), nullable=True))
    with op.batch_alter_table("imports") as batch:
        batch.add_column(sa.Column("ledger_pruned_at", UTC_TIMESTAMP, nullable=True))
    op.create_index("ix_imports_finished_at", "imports", ["finished_at"])
    op.create_table(
        "key_checks",
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("check_value", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", UTC_TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("fingerprint", name="pk_key_checks"),
    )


def downgrade() -> None:
    op.drop_table("key_checks")
    op.drop_index("ix_imports_finished_at", table_name="imports")
    with op.batch_alter_table("imports") as batch:
        batch.drop_column("ledger_pruned_at")
    with op.batch_alter_table("catalog_playlists") as batch:
        batch.drop_column("share_message_id")
        batch.drop_column("share_channel_id")
