"""Initial schema: accounts, OAuth states, catalog, imports with their ledger, match cache.

Revision ID: 0001
Revises:
Create Date: 2026-11-25

Types are spelled out here (not imported from storage.models) so this revision keeps
meaning the same thing when the models change later.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: BIGINT identity on PostgreSQL; INTEGER (the rowid alias, autoincrementing) on SQLite.
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UTC_TIMESTAMP = sa.DateTime(timezone=True)
STATUS = sa.String(16)


def _one_of(column: str, values: Sequence[str], name: str) -> sa.CheckConstraint:
    allowed = ", ".join(f"'{value}'" for value in values)
    return sa.CheckConstraint(f"{column} IN ({allowed})", name=op.f(name))


def upgrade() -> None:
    """Create every table and index."""
    op.create_table(
        "accounts",
        sa.Column("discord_user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("spotify_user_id", sa.String(255), nullable=False),
        sa.Column("display_name", sa.Text(), nullable=True),
        sa.Column("refresh_token_encrypted", sa.LargeBinary(), nullable=False),
        sa.Column("access_token_encrypted", sa.LargeBinary(), nullable=True),
        sa.Column("access_token_expires_at", UTC_TIMESTAMP, nullable=True),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("country", sa.String(8), nullable=True),
        sa.Column("created_at", UTC_TIMESTAMP, nullable=False),
        sa.Column("updated_at", UTC_TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("discord_user_id", name=op.f("pk_accounts")),
    )
    op.create_index(op.f("ix_accounts_spotify_user_id"), "accounts", ["spotify_user_id"])

    op.create_table(
        "oauth_states",
        sa.Column("state_hash", sa.String(64), nullable=False),
        sa.Column("discord_user_id", sa.BigInteger(), nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", UTC_TIMESTAMP, nullable=False),
        sa.Column("expires_at", UTC_TIMESTAMP, nullable=False),
        sa.Column("used_at", UTC_TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("state_hash", name=op.f("pk_oauth_states")),
    )
    op.create_index(op.f("ix_oauth_states_discord_user_id"), "oauth_states", ["discord_user_id"])
    op.create_index(op.f("ix_oauth_states_expires_at"), "oauth_states", ["expires_at"])

    op.create_table(
        "catalog_playlists",
        sa.Column("id", ID, nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("owner_discord_user_id", sa.BigInteger(), nullable=False),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("provider_playlist_id", sa.String(255), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("name_search", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("owner_display_name", sa.Text(), nullable=True),
        sa.Column("snapshot_id", sa.String(255), nullable=True),
        sa.Column("track_count", sa.Integer(), nullable=False),
        sa.Column("total_duration_ms", sa.BigInteger(), nullable=False),
        sa.Column("skipped", sa.JSON(), nullable=False),
        sa.Column("status", STATUS, nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", UTC_TIMESTAMP, nullable=False),
        sa.Column("updated_at", UTC_TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_playlists")),
        sa.UniqueConstraint(
            "guild_id",
            "provider",
            "provider_playlist_id",
            name=op.f("uq_catalog_playlists_guild_id_provider_provider_playlist_id"),
        ),
        _one_of(
            "status",
            ("pending", "reading", "ready", "failed"),
            "ck_catalog_playlists_playlist_status",
        ),
        sqlite_autoincrement=True,
    )
    op.create_index(
        op.f("ix_catalog_playlists_guild_id_created_at"),
        "catalog_playlists",
        ["guild_id", "created_at"],
    )

    op.create_table(
        "catalog_tracks",
        sa.Column("id", ID, nullable=False),
        sa.Column("playlist_id", ID, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("artists", sa.JSON(), nullable=False),
        sa.Column("album", sa.Text(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("isrc", sa.String(32), nullable=True),
        sa.Column("provider_track_id", sa.String(255), nullable=True),
        sa.Column("provider_uri", sa.String(255), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_tracks")),
        sa.ForeignKeyConstraint(
            ["playlist_id"],
            ["catalog_playlists.id"],
            name=op.f("fk_catalog_tracks_playlist_id_catalog_playlists"),
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint(
            "playlist_id", "position", name=op.f("uq_catalog_tracks_playlist_id_position")
        ),
        sqlite_autoincrement=True,
    )

    op.create_table(
        "imports",
        sa.Column("id", ID, nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("discord_user_id", sa.BigInteger(), nullable=False),
        sa.Column("catalog_playlist_id", ID, nullable=True),
        sa.Column("playlist_name", sa.Text(), nullable=False),
        sa.Column("target_playlist_id", sa.String(255), nullable=True),
        sa.Column("target_playlist_url", sa.Text(), nullable=True),
        sa.Column("channel_id", sa.BigInteger(), nullable=False),
        sa.Column("message_id", sa.BigInteger(), nullable=True),
        sa.Column("status", STATUS, nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("added", sa.Integer(), nullable=False),
        sa.Column("already_present", sa.Integer(), nullable=False),
        sa.Column("not_found", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("workflow_run_id", sa.String(255), nullable=True),
        sa.Column("resume_at", UTC_TIMESTAMP, nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", UTC_TIMESTAMP, nullable=False),
        sa.Column("updated_at", UTC_TIMESTAMP, nullable=False),
        sa.Column("finished_at", UTC_TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_imports")),
        sa.ForeignKeyConstraint(
            ["catalog_playlist_id"],
            ["catalog_playlists.id"],
            name=op.f("fk_imports_catalog_playlist_id_catalog_playlists"),
            ondelete="SET NULL",
        ),
        _one_of(
            "status",
            ("queued", "running", "paused", "completed", "failed", "cancelled"),
            "ck_imports_import_status",
        ),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_imports_catalog_playlist_id"), "imports", ["catalog_playlist_id"])
    op.create_index(
        op.f("ix_imports_discord_user_id_created_at"),
        "imports",
        ["discord_user_id", "created_at"],
    )

    op.create_table(
        "import_items",
        sa.Column("import_id", ID, nullable=False),
        sa.Column("position", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("catalog_track_id", ID, nullable=True),
        sa.Column("state", STATUS, nullable=False),
        sa.Column("already_present", sa.Boolean(), nullable=False),
        sa.Column("resolved_uri", sa.String(255), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("updated_at", UTC_TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("import_id", "position", name=op.f("pk_import_items")),
        sa.ForeignKeyConstraint(
            ["import_id"],
            ["imports.id"],
            name=op.f("fk_import_items_import_id_imports"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["catalog_track_id"],
            ["catalog_tracks.id"],
            name=op.f("fk_import_items_catalog_track_id_catalog_tracks"),
            ondelete="SET NULL",
        ),
        _one_of(
            "state",
            ("pending", "resolved", "added", "not_found", "failed", "skipped"),
            "ck_import_items_item_state",
        ),
    )
    op.create_index(op.f("ix_import_items_catalog_track_id"), "import_items", ["catalog_track_id"])

    op.create_table(
        "track_matches",
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("spotify_uri", sa.String(255), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("created_at", UTC_TIMESTAMP, nullable=False),
        sa.Column("updated_at", UTC_TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_track_matches")),
    )


def downgrade() -> None:
    """Drop everything (dependents first); indexes go with their tables."""
    for table in (
        "import_items",
        "imports",
        "catalog_tracks",
        "catalog_playlists",
        "oauth_states",
        "track_matches",
        "accounts",
    ):
        op.drop_table(table)
