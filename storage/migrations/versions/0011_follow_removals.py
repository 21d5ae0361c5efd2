"""Followers may choose that songs leaving the source leave their copy too.

- `imports.follow_remove`: the member chose it (only with `follow`: a check); only songs
  Mixtape added to the copy are ever removed, never ones the member added by hand.
- `import_removals`: what a follower's update planned to remove from the copy (written in
  the transaction that reads the copy, before any call), and when Spotify confirmed it.
  With the ledger's added rows it is what tells Mixtape's songs in a copy from the
  member's.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("imports") as batch:
        batch.add_column(
            sa.Column("follow_remove", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.create_check_constraint(
            op.f("ck_imports_remove_needs_follow"), "follow OR NOT follow_remove"
        )
    op.create_table(
        "import_removals",
        sa.Column(
            "import_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("uri", sa.String(255), nullable=False),
        sa.Column("occurrences", sa.Integer(), nullable=False),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("occurrences > 0", name="ck_import_removals_occurrences_positive"),
        sa.ForeignKeyConstraint(
            ["import_id"],
            ["imports.id"],
            name="fk_import_removals_import_id_imports",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("import_id", "uri", name="pk_import_removals"),
    )


def downgrade() -> None:
    op.drop_table("import_removals")
    with op.batch_alter_table("imports") as batch:
        batch.drop_constraint(op.f("ck_imports_remove_needs_follow"), type_="check")
        batch.drop_column("follow_remove")
