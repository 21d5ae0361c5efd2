"""A guild's catalog of shared playlists and their tracks.

Every lookup that starts from user input takes the guild id, so one server can never see,
import or delete another server's entries by guessing an id.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, case, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage._sql import chunked, dialect_insert, rowcount
from storage.enums import PlaylistStatus
from storage.errors import CatalogFull, ShareInProgress
from storage.models import CatalogPlaylist, CatalogTrack
from storage.types import utcnow

_TRACK_FIELDS = (
    "title",
    "artists",
    "album",
    "duration_ms",
    "isrc",
    "provider_track_id",
    "provider_uri",
    "markets",
)


@dataclass(frozen=True, slots=True)
class TrackData:
    """One playable entry read from the source, in playlist order (its index = position)."""

    title: str
    artists: Sequence[str] = field(default_factory=tuple)
    duration_ms: int = 0
    album: str | None = None
    isrc: str | None = None
    provider_track_id: str | None = None
    provider_uri: str | None = None
    markets: Sequence[str] | None = None

    def row(self) -> dict[str, Any]:
        """Column values as stored (artists as a JSON list)."""
        return {
            "title": self.title,
            "artists": list(self.artists),
            "album": self.album,
            "duration_ms": self.duration_ms,
            "isrc": self.isrc,
            "provider_track_id": self.provider_track_id,
            "provider_uri": self.provider_uri,
            "markets": None if self.markets is None else list(self.markets),
        }


async def upsert_catalog_playlist(
    session: AsyncSession,
    *,
    guild_id: int,
    owner_discord_user_id: int,
    provider_playlist_id: str,
    url: str,
    provider: str = "spotify",
    name: str | None = None,
    status: PlaylistStatus = PlaylistStatus.PENDING,
) -> int:
    """The catalog id for (guild, provider, playlist), creating the entry on first share.

    Sharing again refreshes url and status (a re-read follows) but keeps the original
    owner and the entry's place in the catalog. Atomic under concurrent shares.
    """
    now = utcnow()
    changes: dict[str, Any] = {"url": url, "status": status, "error": None, "updated_at": now}
    if name is not None:
        changes.update(name=name, name_search=name.casefold())
    values: dict[str, Any] = {
        "guild_id": guild_id,
        "owner_discord_user_id": owner_discord_user_id,
        "provider": provider,
        "provider_playlist_id": provider_playlist_id,
        "name": "",
        "name_search": "",
        "track_count": 0,
        "total_duration_ms": 0,
        "skipped": {},
        "created_at": now,
        **changes,
    }
    stmt = dialect_insert(session, CatalogPlaylist).values(values)
    upsert = stmt.on_conflict_do_update(
        index_elements=["guild_id", "provider", "provider_playlist_id"], set_=changes
    ).returning(CatalogPlaylist.id)
    playlist_id: int = (await session.execute(upsert)).scalar_one()
    return playlist_id


#: A share in these states is being read (or waits for a worker to read it).
LIVE_SHARE = (PlaylistStatus.PENDING, PlaylistStatus.READING)


def share_is_live(entry: CatalogPlaylist, stale_before: datetime) -> bool:
    """Whether the entry's share is still being read. One untouched since `stale_before` is
    taken for dead (its run outlived any timeout), so it never blocks a re-share for ever."""
    return entry.status in LIVE_SHARE and entry.updated_at >= stale_before


async def find_guild_playlist_by_source(
    session: AsyncSession, guild_id: int, provider_playlist_id: str, provider: str = "spotify"
) -> CatalogPlaylist | None:
    """This guild's entry for a source playlist, if it was shared here before."""
    stmt = select(CatalogPlaylist).where(
        CatalogPlaylist.guild_id == guild_id,
        CatalogPlaylist.provider == provider,
        CatalogPlaylist.provider_playlist_id == provider_playlist_id,
    )
    return (await session.scalars(stmt.execution_options(populate_existing=True))).one_or_none()


async def claim_share(
    session: AsyncSession,
    *,
    guild_id: int,
    owner_discord_user_id: int,
    provider_playlist_id: str,
    url: str,
    name: str,
    stale_before: datetime,
    max_entries: int,
    provider: str = "spotify",
) -> int:
    """The entry for a new share, moved to pending: created on first share, else re-read.

    One live share per entry, decided by the database: the upsert updates the row only if
    no share of it is live (see `share_is_live`), so of two shares at once one claims it
    and the other gets ShareInProgress. A new entry past the guild's `max_entries` raises
    CatalogFull (a re-share of an existing entry is always allowed). Like
    `upsert_catalog_playlist`, a re-share keeps the first owner and the catalog position.
    """
    existing = await find_guild_playlist_by_source(
        session, guild_id, provider_playlist_id, provider
    )
    if existing is None and await count_guild_catalog(session, guild_id) >= max_entries:
        raise CatalogFull(max_entries)
    now = utcnow()
    changes: dict[str, Any] = {
        "url": url,
        "name": name,
        "name_search": name.casefold(),
        "error": None,
        "status": PlaylistStatus.PENDING,
        "share_channel_id": None,
        "share_message_id": None,
        "updated_at": now,
    }
    values: dict[str, Any] = {
        "guild_id": guild_id,
        "owner_discord_user_id": owner_discord_user_id,
        "provider": provider,
        "provider_playlist_id": provider_playlist_id,
        "track_count": 0,
        "total_duration_ms": 0,
        "skipped": {},
        "created_at": now,
        **changes,
    }
    live = CatalogPlaylist.status.in_(LIVE_SHARE) & (CatalogPlaylist.updated_at >= stale_before)
    upsert = (
        dialect_insert(session, CatalogPlaylist)
        .values(values)
        .on_conflict_do_update(
            index_elements=["guild_id", "provider", "provider_playlist_id"],
            set_=changes,
            where=~live,
        )
        .returning(CatalogPlaylist.id)
    )
    claimed = (await session.execute(upsert)).scalar_one_or_none()
    if claimed is None:  # live: this share's, or a racing first share's
        found = await find_guild_playlist_by_source(
            session, guild_id, provider_playlist_id, provider
        )
        raise ShareInProgress(found.id if found else 0)
    return int(claimed)


async def claim_refresh(session: AsyncSession, playlist_id: int) -> bool:
    """Move a ready entry to pending for a re-read its source's change asked for. False
    when it is not ready (a share of it is live, or it failed): that one decides."""
    stmt = (
        update(CatalogPlaylist)
        .where(CatalogPlaylist.id == playlist_id, CatalogPlaylist.status == PlaylistStatus.READY)
        .values(status=PlaylistStatus.PENDING, error=None, updated_at=utcnow())
    )
    return rowcount(await session.execute(stmt)) == 1


async def set_share_message(
    session: AsyncSession, playlist_id: int, channel_id: int, message_id: int
) -> None:
    """Remember the share's progress message, for a second /share to point to."""
    await session.execute(
        update(CatalogPlaylist)
        .where(CatalogPlaylist.id == playlist_id)
        .values(share_channel_id=channel_id, share_message_id=message_id)
    )


async def update_catalog_metadata(
    session: AsyncSession,
    playlist_id: int,
    *,
    name: str,
    description: str | None = None,
    owner_display_name: str | None = None,
    snapshot_id: str | None = None,
) -> bool:
    """Record what the share workflow read about the playlist; False if it was unshared."""
    stmt = (
        update(CatalogPlaylist)
        .where(CatalogPlaylist.id == playlist_id)
        .values(
            name=name,
            name_search=name.casefold(),
            description=description,
            owner_display_name=owner_display_name,
            snapshot_id=snapshot_id,
            updated_at=utcnow(),
        )
    )
    return rowcount(await session.execute(stmt)) == 1


async def replace_catalog_tracks(
    session: AsyncSession,
    playlist_id: int,
    tracks: Sequence[TrackData],
    *,
    skipped: Mapping[str, int] | None = None,
) -> int:
    """Make the stored tracks equal `tracks`, touching only positions that changed."""
    await replace_catalog_track_range(session, playlist_id, 0, tracks)
    return await finish_catalog_tracks(session, playlist_id, len(tracks), skipped=skipped)


async def replace_catalog_track_range(
    session: AsyncSession, playlist_id: int, start: int, tracks: Sequence[TrackData]
) -> None:
    """Make positions `start .. start+len(tracks)-1` equal `tracks` (one page of a share).

    Unchanged positions keep their rows (so the same input twice changes nothing and ledger
    rows keep pointing at them); a changed position gets a new row, so an import already
    running never adds a different song under an old ledger row (it sees the track gone).
    """
    wanted = {start + index: track.row() for index, track in enumerate(tracks)}
    existing = (
        await session.scalars(
            select(CatalogTrack).where(
                CatalogTrack.playlist_id == playlist_id,
                CatalogTrack.position >= start,
                CatalogTrack.position < start + len(tracks),
            )
        )
    ).all()
    stale_ids: list[int] = []
    kept: set[int] = set()
    for row in existing:
        current = {name: getattr(row, name) for name in _TRACK_FIELDS}
        if current == wanted.get(row.position):
            kept.add(row.position)
        else:
            stale_ids.append(row.id)
    for ids in chunked(stale_ids):
        await session.execute(delete(CatalogTrack).where(CatalogTrack.id.in_(ids)))
    missing = [
        {"playlist_id": playlist_id, "position": position, **row}
        for position, row in wanted.items()
        if position not in kept
    ]
    for rows in chunked(missing):
        await session.execute(insert(CatalogTrack), rows)


async def finish_catalog_tracks(
    session: AsyncSession,
    playlist_id: int,
    count: int,
    *,
    skipped: Mapping[str, int] | None = None,
) -> int:
    """Drop positions past `count` (the playlist shrank) and recompute the entry's totals."""
    await session.execute(
        delete(CatalogTrack).where(
            CatalogTrack.playlist_id == playlist_id, CatalogTrack.position >= count
        )
    )
    totals = (
        await session.execute(
            select(func.count(), func.coalesce(func.sum(CatalogTrack.duration_ms), 0)).where(
                CatalogTrack.playlist_id == playlist_id
            )
        )
    ).one()
    summary: dict[str, Any] = {
        "track_count": int(totals[0]),
        "total_duration_ms": int(totals[1]),
        "updated_at": utcnow(),
    }
    if skipped is not None:
        summary["skipped"] = dict(skipped)
    await session.execute(
        update(CatalogPlaylist).where(CatalogPlaylist.id == playlist_id).values(**summary)
    )
    return int(totals[0])


async def mark_catalog_status(
    session: AsyncSession,
    playlist_id: int,
    status: PlaylistStatus,
    *,
    error: str | None = None,
) -> bool:
    """Move an entry to `status`; `error` is kept only for FAILED. False if unshared."""
    stmt = (
        update(CatalogPlaylist)
        .where(CatalogPlaylist.id == playlist_id)
        .values(
            status=status,
            error=error if status is PlaylistStatus.FAILED else None,
            updated_at=utcnow(),
        )
    )
    return rowcount(await session.execute(stmt)) == 1


def _guild_catalog(
    guild_id: int, query: str | None, statuses: Collection[PlaylistStatus] | None
) -> Select[CatalogPlaylist]:
    stmt = select(CatalogPlaylist).where(CatalogPlaylist.guild_id == guild_id)
    if query:
        stmt = stmt.where(CatalogPlaylist.name_search.contains(query.casefold(), autoescape=True))
    if statuses is not None:
        stmt = stmt.where(CatalogPlaylist.status.in_(list(statuses)))
    return stmt


async def list_guild_catalog(
    session: AsyncSession,
    guild_id: int,
    *,
    query: str | None = None,
    limit: int = 10,
    offset: int = 0,
    statuses: Collection[PlaylistStatus] | None = None,
) -> list[CatalogPlaylist]:
    """One page of the guild's catalog, newest first, optionally filtered by name."""
    stmt = (
        _guild_catalog(guild_id, query, statuses)
        .order_by(CatalogPlaylist.created_at.desc(), CatalogPlaylist.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return list((await session.scalars(stmt)).all())


async def count_guild_catalog(
    session: AsyncSession,
    guild_id: int,
    *,
    query: str | None = None,
    statuses: Collection[PlaylistStatus] | None = None,
) -> int:
    """How many entries `list_guild_catalog` pages over (for "page 2 of 5")."""
    inner = _guild_catalog(guild_id, query, statuses).with_only_columns(CatalogPlaylist.id)
    total = await session.scalar(select(func.count()).select_from(inner.subquery()))
    return int(total or 0)


async def get_guild_playlist(
    session: AsyncSession, guild_id: int, playlist_id: int
) -> CatalogPlaylist | None:
    """The entry if it belongs to this guild; None for unknown ids and other guilds' ids."""
    stmt = select(CatalogPlaylist).where(
        CatalogPlaylist.id == playlist_id, CatalogPlaylist.guild_id == guild_id
    )
    return (await session.scalars(stmt)).one_or_none()


async def get_catalog_playlist(session: AsyncSession, playlist_id: int) -> CatalogPlaylist | None:
    """An entry by id alone, for workflows whose input already passed the guild check."""
    return await session.get(CatalogPlaylist, playlist_id, populate_existing=True)


async def delete_catalog_playlist(session: AsyncSession, guild_id: int, playlist_id: int) -> bool:
    """Unshare: the entry and its tracks go; imports keep their history. False if not ours."""
    stmt = delete(CatalogPlaylist).where(
        CatalogPlaylist.id == playlist_id, CatalogPlaylist.guild_id == guild_id
    )
    return rowcount(await session.execute(stmt)) == 1


async def autocomplete_guild_playlists(
    session: AsyncSession,
    guild_id: int,
    prefix: str,
    limit: int = 25,
    *,
    ready_only: bool = False,
) -> list[CatalogPlaylist]:
    """Choices for a slash-command option: names starting with the text first, then containing it.

    `limit` defaults to Discord's maximum of 25 choices.
    """
    statuses = [PlaylistStatus.READY] if ready_only else None
    folded = prefix.casefold()
    starts = case((CatalogPlaylist.name_search.startswith(folded, autoescape=True), 0), else_=1)
    stmt = (
        _guild_catalog(guild_id, prefix, statuses)
        .order_by(starts, CatalogPlaylist.name_search, CatalogPlaylist.id)
        .limit(limit)
    )
    return list((await session.scalars(stmt)).all())


async def list_tracks(
    session: AsyncSession, playlist_id: int, *, limit: int | None = None, offset: int = 0
) -> list[CatalogTrack]:
    """Tracks of an entry in playlist order (check the guild first with get_guild_playlist)."""
    stmt = (
        select(CatalogTrack)
        .where(CatalogTrack.playlist_id == playlist_id)
        .order_by(CatalogTrack.position)
        .offset(offset)
    )
    if limit is not None:
        stmt = stmt.limit(limit)
    return list((await session.scalars(stmt)).all())


async def find_guild_playlists_named(
    session: AsyncSession, guild_id: int, name: str, limit: int = 5
) -> list[CatalogPlaylist]:
    """Entries of this guild called exactly `name` in any case (a typed name; usually one).

    A blank name names nothing: entries are blank until their share has been read.
    """
    folded = name.casefold()
    if not folded.strip():
        return []
    stmt = (
        select(CatalogPlaylist)
        .where(CatalogPlaylist.guild_id == guild_id, CatalogPlaylist.name_search == folded)
        .order_by(CatalogPlaylist.id)
        .limit(limit)
    )
    return list((await session.scalars(stmt)).all())
