"""A link binds the right person: one member per Spotify account, a /link per browser.

`accounts.spotify_user_id` becomes unique, so two Discord members can never act as the
same Spotify account (a forwarded /link URL once linked the opener's Spotify to its
author). Where duplicates exist, the account linked first keeps its link and the later
links are removed: those members run /link again, with their own Spotify account.

`oauth_states` learns whom a /link names on our page before Spotify (the member's display
name and username, the server's name) and the PKCE challenge of the browser that pressed
its button: that browser's cookie holds the verifier, and only that browser can finish.
Pending states are dropped: they were never bound to a browser (they expire in minutes).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_accounts_spotify_user_id"


def upgrade() -> None:
    """Remove later duplicate links, make the Spotify id unique, bind states to browsers."""
    accounts = sa.table(
        "accounts",
        sa.column("discord_user_id", sa.BigInteger()),
        sa.column("spotify_user_id", sa.String(255)),
        sa.column("created_at", sa.DateTime(timezone=True)),
    )
    earlier = accounts.alias("earlier")
    linked_before = (
        sa.select(sa.literal(1))
        .select_from(earlier)
        .where(
            earlier.c.spotify_user_id == accounts.c.spotify_user_id,
            sa.or_(
                earlier.c.created_at < accounts.c.created_at,
                sa.and_(
                    earlier.c.created_at == accounts.c.created_at,
                    earlier.c.discord_user_id < accounts.c.discord_user_id,
                ),
            ),
        )
        .exists()
    )
    op.execute(accounts.delete().where(linked_before))
    op.drop_index(INDEX, table_name="accounts")
    op.create_index(INDEX, "accounts", ["spotify_user_id"], unique=True)

    op.execute(sa.text("DELETE FROM oauth_states"))
    with op.batch_alter_table("oauth_states") as batch:
        batch.add_column(sa.Column("discord_display_name", sa.Text(), nullable=True))
        batch.add_column(sa.Column("discord_username", sa.Text(), nullable=True))
        batch.add_column(sa.Column("guild_name", sa.Text(), nullable=True))
        batch.add_column(sa.Column("code_challenge", sa.String(128), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("oauth_states") as batch:
        batch.drop_column("code_challenge")
        batch.drop_column("guild_name")
        batch.drop_column("discord_username")
        batch.drop_column("discord_display_name")
    op.drop_index(INDEX, table_name="accounts")
    op.create_index(INDEX, "accounts", ["spotify_user_id"])
