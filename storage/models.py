"""The tables (DESIGN.md section 3), one portable schema for SQLite and PostgreSQL.

Discord snowflakes are BIGINT, timestamps are aware UTC, lists and maps are JSON, and
statuses are short strings guarded by CHECK constraints (no native enum types to migrate).
Relationships are `lazy="raise"`: async code must say what it loads.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from storage.enums import ImportStatus, ItemState, PlaylistStatus
from storage.types import IdType, UTCDateTime, utcnow

#: Stable constraint names, so later migrations can address them on both databases.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base sharing one metadata (the migration target)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime()}


def _status(enum_cls: type[StrEnum], name: str) -> Enum:
    """A VARCHAR + CHECK column storing the enum's values, identical on both databases."""
    return Enum(
        enum_cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=16,
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
    )


class Account(Base):
    """A Discord user's linked Spotify account; tokens are Fernet ciphertext, never plain."""

    __tablename__ = "accounts"

    discord_user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    #: One member per Spotify account (unique): no one acts as another's Spotify.
    spotify_user_id: Mapped[str] = mapped_column(String(255), index=True, unique=True)
    display_name: Mapped[str | None] = mapped_column(Text)
    refresh_token_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    access_token_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    access_token_expires_at: Mapped[datetime | None]
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    country: Mapped[str | None] = mapped_column(String(8))
    #: When the member was asked to /link again for a scope their grant lacks (once).
    relink_asked_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class OAuthState(Base):
    """A pending /link: only the SHA-256 of the state is kept, so a DB leak cannot replay it."""

    __tablename__ = "oauth_states"

    state_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    discord_user_id: Mapped[int] = mapped_column(BigInteger, index=True)
    guild_id: Mapped[int | None] = mapped_column(BigInteger)
    #: Whom our page before Spotify names, so a forwarded URL shows whose link it is.
    discord_display_name: Mapped[str | None] = mapped_column(Text)
    discord_username: Mapped[str | None] = mapped_column(Text)
    guild_name: Mapped[str | None] = mapped_column(Text)
    #: PKCE challenge of the browser that pressed our page's button; its cookie holds the
    #: verifier, so only that browser can finish the link (NULL: not pressed yet).
    code_challenge: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    used_at: Mapped[datetime | None]


class CatalogPlaylist(Base):
    """A playlist shared into one guild's catalog."""

    __tablename__ = "catalog_playlists"
    __table_args__ = (
        UniqueConstraint("guild_id", "provider", "provider_playlist_id"),
        Index(None, "guild_id", "created_at"),
        # Never reuse an unshared entry's id: a stale button must not hit a new entry.
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    guild_id: Mapped[int] = mapped_column(BigInteger)
    owner_discord_user_id: Mapped[int] = mapped_column(BigInteger)
    provider: Mapped[str] = mapped_column(String(32), default="spotify")
    provider_playlist_id: Mapped[str] = mapped_column(String(255))
    url: Mapped[str] = mapped_column(Text)
    name: Mapped[str] = mapped_column(Text, default="")
    #: `name.casefold()`: Unicode-correct case-insensitive search on both databases.
    name_search: Mapped[str] = mapped_column(Text, default="")
    description: Mapped[str | None] = mapped_column(Text)
    owner_display_name: Mapped[str | None] = mapped_column(Text)
    snapshot_id: Mapped[str | None] = mapped_column(String(255))
    track_count: Mapped[int] = mapped_column(Integer, default=0)
    total_duration_ms: Mapped[int] = mapped_column(BigInteger, default=0)
    #: Entries left out while reading, by reason (e.g. {"local_file": 2, "episode": 1}).
    skipped: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    status: Mapped[PlaylistStatus] = mapped_column(
        _status(PlaylistStatus, "playlist_status"), default=PlaylistStatus.PENDING
    )
    error: Mapped[str | None] = mapped_column(Text)
    #: The progress message of the entry's latest share (a second /share points to it).
    share_channel_id: Mapped[int | None] = mapped_column(BigInteger)
    share_message_id: Mapped[int | None] = mapped_column(BigInteger)
    #: Following the source: when it was last checked, last changed, and what changed.
    checked_at: Mapped[datetime | None]
    changed_at: Mapped[datetime | None]
    change_added: Mapped[int | None] = mapped_column(Integer)
    change_removed: Mapped[int | None] = mapped_column(Integer)
    change_moved: Mapped[int | None] = mapped_column(Integer)
    #: Why following is paused (the sharer unlinked, the source is unreadable); NULL: on.
    follow_paused_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    tracks: Mapped[list[CatalogTrack]] = relationship(
        back_populates="playlist",
        order_by="CatalogTrack.position",
        cascade="all, delete-orphan",
        passive_deletes=True,
        lazy="raise",
    )


class CatalogPrevious(Base):
    """An entry's songs as they were before the read in progress (URI, or title when a
    song has none), in order: a change is measured against the last complete read."""

    __tablename__ = "catalog_previous"

    playlist_id: Mapped[int] = mapped_column(
        ForeignKey("catalog_playlists.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    song: Mapped[str] = mapped_column(String(255))


class GuildFollowPause(Base):
    """A server whose managers paused following: none of its entries is checked."""

    __tablename__ = "guild_follow_pauses"

    guild_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    paused_by: Mapped[int] = mapped_column(BigInteger)
    paused_at: Mapped[datetime] = mapped_column(default=utcnow)


class CatalogTrack(Base):
    """One entry of a catalog playlist, in playlist order."""

    __tablename__ = "catalog_tracks"
    __table_args__ = (
        UniqueConstraint("playlist_id", "position"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    playlist_id: Mapped[int] = mapped_column(ForeignKey("catalog_playlists.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(Text)
    artists: Mapped[list[str]] = mapped_column(JSON, default=list)
    album: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    isrc: Mapped[str | None] = mapped_column(String(32))
    provider_track_id: Mapped[str | None] = mapped_column(String(255))
    provider_uri: Mapped[str | None] = mapped_column(String(255))
    markets: Mapped[list[str] | None] = mapped_column(JSON)

    playlist: Mapped[CatalogPlaylist] = relationship(back_populates="tracks", lazy="raise")


#: The states an import is active in (see migration 0005, which must say the same).
_ACTIVE_IMPORT = "status IN ('queued', 'running', 'paused')"


class Import(Base):
    """One member importing one catalog playlist into their Spotify account.

    The counters are a cache recomputed from the ledger (`import_items`); the catalog link
    is nulled, not cascaded, when the playlist is unshared so the member keeps the record.
    """

    __tablename__ = "imports"
    __table_args__ = (
        Index(None, "discord_user_id", "created_at"),
        Index(None, "finished_at"),  # the ledger retention's sweep
        # One active import per member, guild and playlist: two clicks at once, one import.
        Index(
            "uq_imports_one_active",
            "discord_user_id",
            "guild_id",
            "catalog_playlist_id",
            unique=True,
            sqlite_where=text(_ACTIVE_IMPORT),
            postgresql_where=text(_ACTIVE_IMPORT),
        ),
        # Removing what left the source is part of following, never on its own.
        CheckConstraint("follow OR NOT follow_remove", name="remove_needs_follow"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    guild_id: Mapped[int] = mapped_column(BigInteger)
    discord_user_id: Mapped[int] = mapped_column(BigInteger)
    catalog_playlist_id: Mapped[int | None] = mapped_column(
        ForeignKey("catalog_playlists.id", ondelete="SET NULL"), index=True
    )
    #: The catalog name at import time, kept for listings after an unshare.
    playlist_name: Mapped[str] = mapped_column(Text, default="")
    target_playlist_id: Mapped[str | None] = mapped_column(String(255))
    target_playlist_url: Mapped[str | None] = mapped_column(Text)
    #: The target's length as last read or extended by us; where our next batch lands.
    target_length: Mapped[int | None] = mapped_column(Integer)
    channel_id: Mapped[int] = mapped_column(BigInteger)
    message_id: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[ImportStatus] = mapped_column(
        _status(ImportStatus, "import_status"), default=ImportStatus.QUEUED
    )
    total: Mapped[int] = mapped_column(Integer, default=0)
    added: Mapped[int] = mapped_column(Integer, default=0)
    already_present: Mapped[int] = mapped_column(Integer, default=0)
    not_found: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    workflow_run_id: Mapped[str | None] = mapped_column(String(255))
    resume_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    finished_at: Mapped[datetime | None]
    #: When the retention period removed the ledger (the counters stay; no /retry after).
    ledger_pruned_at: Mapped[datetime | None]
    #: The member asked that this copy follow the entry: its changes are appended.
    follow: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    #: Started by a change of the followed entry (no progress message of its own).
    follow_update: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    #: With `follow`: songs that leave the source leave the copy (only those Mixtape added).
    follow_remove: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    items: Mapped[list[ImportItem]] = relationship(
        back_populates="import_",
        order_by="ImportItem.position",
        cascade="all, delete-orphan",
        passive_deletes=True,
        lazy="raise",
    )


class ImportItem(Base):
    """The ledger: one row per (import, position), the truth for progress and "add once"."""

    __tablename__ = "import_items"

    import_id: Mapped[int] = mapped_column(
        ForeignKey("imports.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    catalog_track_id: Mapped[int | None] = mapped_column(
        ForeignKey("catalog_tracks.id", ondelete="SET NULL"), index=True
    )
    state: Mapped[ItemState] = mapped_column(
        _status(ItemState, "item_state"), default=ItemState.PENDING
    )
    #: Added because reconciliation found it already in the target playlist, not by us.
    already_present: Mapped[bool] = mapped_column(Boolean, default=False)
    resolved_uri: Mapped[str | None] = mapped_column(String(255))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    import_: Mapped[Import] = relationship(back_populates="items", lazy="raise")
    track: Mapped[CatalogTrack | None] = relationship(lazy="raise")


class ImportRemoval(Base):
    """A song a follower's update removes from their copy because it left the source.

    Written, with how many times the copy held it, in the transaction that read the copy
    (before the call); `removed_at` once Spotify confirmed. Spotify removes every
    occurrence of a URI, so a song is only planned when every occurrence is Mixtape's.
    """

    __tablename__ = "import_removals"
    __table_args__ = (CheckConstraint("occurrences > 0", name="occurrences_positive"),)

    import_id: Mapped[int] = mapped_column(
        ForeignKey("imports.id", ondelete="CASCADE"), primary_key=True
    )
    uri: Mapped[str] = mapped_column(String(255), primary_key=True)
    occurrences: Mapped[int] = mapped_column(Integer)
    removed_at: Mapped[datetime | None]


class TrackMatch(Base):
    """Resolution cache: a song is searched once, not once per import.

    `spotify_uri` NULL records "searched, not found" so misses are not re-searched either.
    """

    __tablename__ = "track_matches"

    key: Mapped[str] = mapped_column(Text, primary_key=True)
    spotify_uri: Mapped[str | None] = mapped_column(String(255))
    confidence: Mapped[float] = mapped_column(Float, default=0.0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class LinkWaitlistEntry(Base):
    """A member Spotify refused at /link because the app is in development mode.

    Development mode serves only accounts the app's owner added by hand, so the operator
    needs this list to know whom to add (or that it is time to apply for extended quota).
    `guild_id` is where the last /link came from, so a server's admins see only their
    own members.
    """

    __tablename__ = "link_waitlist"

    discord_user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    guild_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    display_name: Mapped[str | None] = mapped_column(Text)
    first_refused_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_refused_at: Mapped[datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=1)


class RateGate(Base):
    """A service's Retry-After, shared by every process: no call goes out before `until`.

    Spotify counts its limits per app, so a 429 seen by one import holds back all of them.
    """

    __tablename__ = "rate_gates"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    until: Mapped[datetime] = mapped_column()


class KeyCheck(Base):
    """A key check value: a known text encrypted under one encryption key, named by the
    key's fingerprint.

    A row exists for every key tokens may still be encrypted under (the current key, and
    older ones until `python -m storage.rotate_keys` re-encrypts everything), so a process
    whose TOKEN_ENCRYPTION_KEYS lacks one refuses to start instead of failing every member.
    """

    __tablename__ = "key_checks"

    fingerprint: Mapped[str] = mapped_column(String(64), primary_key=True)
    check_value: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
