"""Following: catalog entries that keep up with their source, members' copies with the entry.

A change is measured per song (its URI, or its title when it has none): what the entry
held at its last complete read (`catalog_previous`, written when a re-read starts and kept
until one completes) against what it holds now, as songs added, removed and moved.
Followers are the members whose newest import of an entry asked to follow it.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage._sql import chunked, dialect_insert, rowcount
from storage.enums import PlaylistStatus
from storage.models import (
    CatalogPlaylist,
    CatalogPrevious,
    CatalogTrack,
    GuildFollowPause,
    Import,
)
from storage.types import utcnow


@dataclass(frozen=True, slots=True)
class Change:
    """What a re-read found against the last complete read."""

    added: int
    removed: int
    moved: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.added or self.removed or self.moved)


def song_key(uri: str | None, title: str) -> str:
    """A song as a change counts it: the URI, or the title for a song without one."""
    return (uri or f"title:{title}")[:255]


def compare(before: Sequence[str], after: Sequence[str]) -> Change:
    """Songs added and removed (per-song counts), and how many of those kept changed their
    order: the kept songs not on a longest run that kept its order."""
    old, new = Counter(before), Counter(after)
    kept = old & new
    # Each kept occurrence in `after`, as the index of the same occurrence in `before`.
    places: dict[str, list[int]] = {}
    budget = dict(kept)
    for index, song in enumerate(before):
        if budget.get(song, 0) > 0:
            places.setdefault(song, []).append(index)
            budget[song] -= 1
    taken = {song: 0 for song in places}
    sequence: list[int] = []
    for song in after:
        spots = places.get(song)
        if spots is not None and taken[song] < len(spots):
            sequence.append(spots[taken[song]])
            taken[song] += 1
    tails: list[int] = []  # patience sorting: the longest increasing run's length
    for value in sequence:
        at = bisect.bisect_left(tails, value)
        if at == len(tails):
            tails.append(value)
        else:
            tails[at] = value
    return Change(
        added=sum((new - old).values()),
        removed=sum((old - new).values()),
        moved=len(sequence) - len(tails),
    )


async def _current_songs(session: AsyncSession, playlist_id: int) -> list[str]:
    rows = await session.execute(
        select(CatalogTrack.provider_uri, CatalogTrack.title)
        .where(CatalogTrack.playlist_id == playlist_id)
        .order_by(CatalogTrack.position)
    )
    return [song_key(uri, title) for uri, title in rows]


async def remember_previous(session: AsyncSession, playlist_id: int) -> None:
    """Keep the entry's songs before a re-read overwrites them; idempotent, and a re-read
    after a failed one keeps the last complete read's songs (they are not overwritten)."""
    kept = await session.scalar(
        select(func.count()).where(CatalogPrevious.playlist_id == playlist_id)
    )
    if kept:
        return
    songs = await _current_songs(session, playlist_id)
    rows = [
        {"playlist_id": playlist_id, "position": at, "song": song} for at, song in enumerate(songs)
    ]
    for batch in chunked(rows):
        await session.execute(insert(CatalogPrevious), batch)


async def measure_change(session: AsyncSession, playlist_id: int) -> Change | None:
    """After a complete read: the change against the previous read, recorded on the entry
    (None for a first read). The previous songs are then dropped."""
    previous = list(
        await session.scalars(
            select(CatalogPrevious.song)
            .where(CatalogPrevious.playlist_id == playlist_id)
            .order_by(CatalogPrevious.position)
        )
    )
    await session.execute(delete(CatalogPrevious).where(CatalogPrevious.playlist_id == playlist_id))
    now = utcnow()
    values: dict[str, object] = {"checked_at": now, "follow_paused_reason": None}
    change: Change | None = None
    if previous:
        change = compare(previous, await _current_songs(session, playlist_id))
        if change.changed:
            values.update(
                changed_at=now,
                change_added=change.added,
                change_removed=change.removed,
                change_moved=change.moved,
            )
    await session.execute(
        update(CatalogPlaylist).where(CatalogPlaylist.id == playlist_id).values(**values)
    )
    return change


async def entries_to_check(session: AsyncSession) -> list[CatalogPlaylist]:
    """Ready entries that follow their source (not paused, nor in a paused server)."""
    paused_guilds = select(GuildFollowPause.guild_id)
    stmt = (
        select(CatalogPlaylist)
        .where(
            CatalogPlaylist.status == PlaylistStatus.READY,
            CatalogPlaylist.follow_paused_reason.is_(None),
            CatalogPlaylist.guild_id.not_in(paused_guilds),
        )
        .order_by(CatalogPlaylist.id)
    )
    return list((await session.scalars(stmt)).all())


async def mark_checked(session: AsyncSession, playlist_id: int) -> None:
    """The source is unchanged: only the time of the check moves."""
    await session.execute(
        update(CatalogPlaylist).where(CatalogPlaylist.id == playlist_id).values(checked_at=utcnow())
    )


async def pause_following(session: AsyncSession, playlist_id: int, reason: str) -> None:
    """Stop checking the entry's source until it is shared again; `reason` is for members."""
    await session.execute(
        update(CatalogPlaylist)
        .where(CatalogPlaylist.id == playlist_id)
        .values(follow_paused_reason=reason, checked_at=utcnow())
    )


async def _newest_imports(session: AsyncSession, playlist_id: int) -> list[Import]:
    newest = (
        select(func.max(Import.id))
        .where(Import.catalog_playlist_id == playlist_id)
        .group_by(Import.discord_user_id)
    )
    stmt = select(Import).where(Import.id.in_(newest)).order_by(Import.id)
    return list((await session.scalars(stmt)).all())


async def followers(session: AsyncSession, playlist_id: int) -> list[Import]:
    """Each follower's newest import of the entry (the one whose choice counts)."""
    return [row for row in await _newest_imports(session, playlist_id) if row.follow]


async def count_followers(session: AsyncSession, playlist_id: int) -> int:
    return len(await followers(session, playlist_id))


async def set_following(
    session: AsyncSession,
    discord_user_id: int,
    playlist_id: int,
    follow: bool,
    *,
    remove: bool = False,
) -> Import | None:
    """The member's choice for an entry they imported, on their newest import of it (None:
    they never imported it); `remove`: songs that leave the entry leave the copy too."""
    newest = await session.scalar(
        select(func.max(Import.id)).where(
            Import.catalog_playlist_id == playlist_id, Import.discord_user_id == discord_user_id
        )
    )
    if newest is None:
        return None
    await session.execute(
        update(Import)
        .where(Import.id == newest)
        .values(follow=follow, follow_remove=follow and remove)
    )
    return await session.get(Import, newest, populate_existing=True)


async def pause_guild(session: AsyncSession, guild_id: int, paused_by: int) -> bool:
    """A manager pauses following in their server; False if it was paused already."""
    stmt = (
        dialect_insert(session, GuildFollowPause)
        .values(guild_id=guild_id, paused_by=paused_by, paused_at=utcnow())
        .on_conflict_do_nothing(index_elements=["guild_id"])
    )
    return rowcount(await session.execute(stmt)) == 1


async def resume_guild(session: AsyncSession, guild_id: int) -> bool:
    """Following resumes in the server; False if it was not paused."""
    stmt = delete(GuildFollowPause).where(GuildFollowPause.guild_id == guild_id)
    return rowcount(await session.execute(stmt)) == 1


async def guild_paused(session: AsyncSession, guild_id: int) -> GuildFollowPause | None:
    return await session.get(GuildFollowPause, guild_id, populate_existing=True)
