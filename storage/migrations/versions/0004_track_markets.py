"""Catalog tracks remember the markets they play in, so an import can warn a member whose
country is not among them before anything is added.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add `catalog_tracks.markets` (NULL: Spotify did not say)."""
    with op.batch_alter_table("catalog_tracks") as batch:
        batch.add_column(sa.Column("markets", sa.JSON(), nullable=True))


def downgrade() -> None:
    """Drop `catalog_tracks.markets`."""
    with op.batch_alter_table("catalog_tracks") as batch:
        batch.drop_column("markets")
