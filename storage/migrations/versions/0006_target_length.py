"""Imports remember how long their target playlist was as Mixtape last knew it.

An add whose answer was lost is checked by reading the target right after that length:
the target may hold songs of the member's own, so "the number of tracks we added" is not
where our next batch lands. NULL: not read yet (a reconcile sets it).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("imports") as batch:
        batch.add_column(sa.Column("target_length", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("imports") as batch:
        batch.drop_column("target_length")
