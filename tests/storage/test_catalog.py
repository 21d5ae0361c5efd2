"""Catalog: idempotent upserts and track replacement, guild isolation, listing and search."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.catalog import (
    TrackData,
    autocomplete_guild_playlists,
    claim_share,
    count_guild_catalog,
    delete_catalog_playlist,
    finish_catalog_tracks,
    get_catalog_playlist,
    get_guild_playlist,
    list_guild_catalog,
    list_tracks,
    mark_catalog_status,
    replace_catalog_track_range,
    replace_catalog_tracks,
    update_catalog_metadata,
    upsert_catalog_playlist,
)
from storage.enums import PlaylistStatus
from storage.errors import CatalogFull, ShareInProgress
from storage.models import CatalogPlaylist, CatalogTrack
from storage.types import utcnow

GUILD, OTHER_GUILD = 100_000_000_000_000_001, 100_000_000_000_000_002
OWNER, MEMBER = 200_000_000_000_000_001, 200_000_000_000_000_002

TRACKS = [
    TrackData(
        "Song A",
        ("Artist 1", "Artist 2"),
        180_000,
        "Album",
        "USRC17607839",
        "a" * 22,
        "spotify:track:" + "a" * 22,
    ),
    TrackData("Song B", ("Artist 3",), 200_000, None, None, "b" * 22, "spotify:track:" + "b" * 22),
    TrackData("Song C", (), 1_000),
]


async def _share(
    session: AsyncSession,
    provider_id: str,
    *,
    guild: int = GUILD,
    owner: int = OWNER,
    name: str | None = None,
) -> int:
    return await upsert_catalog_playlist(
        session,
        guild_id=guild,
        owner_discord_user_id=owner,
        provider_playlist_id=provider_id,
        url=f"https://open.spotify.com/playlist/{provider_id}",
        name=name,
    )


async def _track_rows(session: AsyncSession, playlist_id: int) -> list[tuple[object, ...]]:
    return [
        (t.id, t.position, t.title, t.artists, t.album, t.duration_ms, t.isrc, t.provider_uri)
        for t in await list_tracks(session, playlist_id)
    ]


async def test_share_twice_is_one_row_with_identical_tracks(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions.begin() as session:
        first_id = await _share(session, "pl1", name="Road Trip")
        await replace_catalog_tracks(session, first_id, TRACKS, skipped={"local_file": 2})
    async with sessions.begin() as session:
        first_tracks = await _track_rows(session, first_id)

    async with sessions.begin() as session:
        second_id = await _share(session, "pl1", owner=MEMBER)
        await replace_catalog_tracks(session, second_id, TRACKS, skipped={"local_file": 2})

    async with sessions.begin() as session:
        playlists = (await session.scalars(select(CatalogPlaylist))).all()
        second_tracks = await _track_rows(session, second_id)
        track_total = await session.scalar(select(func.count()).select_from(CatalogTrack))

    assert second_id == first_id
    assert len(playlists) == 1
    playlist = playlists[0]
    assert playlist.owner_discord_user_id == OWNER  # the first sharer stays the owner
    assert playlist.name == "Road Trip"  # not erased by a share that did not know the name
    assert playlist.track_count == 3
    assert playlist.total_duration_ms == 381_000
    assert playlist.skipped == {"local_file": 2}
    assert second_tracks == first_tracks
    assert track_total == 3
    assert first_tracks[0][1:] == (
        0,
        "Song A",
        ["Artist 1", "Artist 2"],
        "Album",
        180_000,
        "USRC17607839",
        "spotify:track:" + "a" * 22,
    )


async def test_concurrent_shares_of_one_playlist_make_one_row(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async def share() -> int:
        async with sessions.begin() as session:
            return await _share(session, "raced")

    ids = await asyncio.gather(*(share() for _ in range(5)))

    async with sessions.begin() as session:
        count = await session.scalar(select(func.count()).select_from(CatalogPlaylist))
    assert len(set(ids)) == 1
    assert count == 1


async def test_replace_tracks_keeps_unchanged_rows_and_replaces_changed_ones(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions.begin() as session:
        playlist_id = await _share(session, "pl")
        await replace_catalog_tracks(session, playlist_id, TRACKS)
    async with sessions.begin() as session:
        before = await _track_rows(session, playlist_id)

    changed = [TRACKS[0], TrackData("Song B (remaster)", ("Artist 3",), 201_000)]
    async with sessions.begin() as session:
        assert await replace_catalog_tracks(session, playlist_id, changed) == 2

    async with sessions.begin() as session:
        after = await _track_rows(session, playlist_id)
        playlist = await get_catalog_playlist(session, playlist_id)

    assert after[0] == before[0]  # same row, same id
    assert after[1][1:3] == (1, "Song B (remaster)")
    assert after[1][0] != before[1][0]  # a changed position gets a new row
    assert len(after) == 2
    assert playlist is not None
    assert (playlist.track_count, playlist.total_duration_ms) == (2, 381_000)

    async with sessions.begin() as session:
        await replace_catalog_tracks(session, playlist_id, [])
        assert await list_tracks(session, playlist_id) == []


async def test_page_by_page_writes_equal_one_replace(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """The share workflow writes one page per step; the result must equal a whole replace."""
    async with sessions.begin() as session:
        paged, whole = await _share(session, "paged"), await _share(session, "whole")
        await replace_catalog_tracks(session, paged, TRACKS * 3)  # an older, longer read
    async with sessions.begin() as session:
        await replace_catalog_tracks(session, whole, TRACKS)
        await replace_catalog_track_range(session, paged, 0, TRACKS[:2])
        await replace_catalog_track_range(session, paged, 2, TRACKS[2:])
        await replace_catalog_track_range(session, paged, 2, TRACKS[2:])  # a replayed page
        assert await finish_catalog_tracks(session, paged, 3, skipped={"local file": 1}) == 3
    async with sessions.begin() as session:
        paged_rows = [row[1:] for row in await _track_rows(session, paged)]
        whole_rows = [row[1:] for row in await _track_rows(session, whole)]
        entry = await get_catalog_playlist(session, paged)
    assert paged_rows == whole_rows
    assert entry is not None
    assert (entry.track_count, entry.total_duration_ms, entry.skipped) == (
        3,
        381_000,
        {"local file": 1},
    )


async def test_metadata_and_status(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions.begin() as session:
        playlist_id = await _share(session, "pl")
        assert await mark_catalog_status(session, playlist_id, PlaylistStatus.READING)
        assert await update_catalog_metadata(
            session,
            playlist_id,
            name="Été 2024",
            description="summer",
            owner_display_name="Ada",
            snapshot_id="snap-1",
        )
        assert await mark_catalog_status(
            session, playlist_id, PlaylistStatus.FAILED, error="playlist is private"
        )
        assert not await mark_catalog_status(session, 999_999, PlaylistStatus.READY)

    async with sessions.begin() as session:
        playlist = await get_guild_playlist(session, GUILD, playlist_id)
    assert playlist is not None
    assert (playlist.name, playlist.description, playlist.owner_display_name) == (
        "Été 2024",
        "summer",
        "Ada",
    )
    assert playlist.snapshot_id == "snap-1"
    assert playlist.status is PlaylistStatus.FAILED
    assert playlist.error == "playlist is private"

    async with sessions.begin() as session:
        await _share(session, "pl")  # a re-share starts over: pending, error cleared
        playlist = await get_guild_playlist(session, GUILD, playlist_id)
    assert playlist is not None
    assert (playlist.status, playlist.error, playlist.name) == (
        PlaylistStatus.PENDING,
        None,
        "Été 2024",
    )


async def test_guild_isolation(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions.begin() as session:
        ours = await _share(session, "same-playlist", name="Shared Mix")
        theirs = await _share(session, "same-playlist", guild=OTHER_GUILD, name="Shared Mix")

    assert ours != theirs  # the same playlist may be shared in two guilds independently
    async with sessions.begin() as session:
        assert await get_guild_playlist(session, GUILD, theirs) is None
        assert [p.id for p in await list_guild_catalog(session, GUILD)] == [ours]
        assert await count_guild_catalog(session, GUILD) == 1
        assert [p.id for p in await autocomplete_guild_playlists(session, GUILD, "shared")] == [
            ours
        ]
        assert not await delete_catalog_playlist(session, GUILD, theirs)

    async with sessions.begin() as session:
        assert await get_guild_playlist(session, OTHER_GUILD, theirs) is not None
        assert await delete_catalog_playlist(session, GUILD, ours)
        assert await get_guild_playlist(session, GUILD, ours) is None
        assert await list_guild_catalog(session, GUILD) == []


async def test_newest_first_with_filter_and_pagination(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    names = ["Chill Vibes", "Rock Classics", "CHILL beats", "Jazz", "Late Night chill"]
    ids = []
    for index, name in enumerate(names):
        async with sessions.begin() as session:
            ids.append(await _share(session, f"p{index}", name=name))

    async with sessions.begin() as session:
        everything = await list_guild_catalog(session, GUILD, limit=50)
        page1 = await list_guild_catalog(session, GUILD, limit=2, offset=0)
        page3 = await list_guild_catalog(session, GUILD, limit=2, offset=4)
        chill = await list_guild_catalog(session, GUILD, query="chill", limit=50)
        chill_page2 = await list_guild_catalog(session, GUILD, query="CHILL", limit=2, offset=2)
        chill_count = await count_guild_catalog(session, GUILD, query="Chill")
        wildcard = await list_guild_catalog(session, GUILD, query="%", limit=50)
        ready = await count_guild_catalog(session, GUILD, statuses=[PlaylistStatus.READY])

    assert [p.id for p in everything] == ids[::-1]
    assert [p.id for p in page1] == [ids[4], ids[3]]
    assert [p.id for p in page3] == [ids[0]]
    assert [p.name for p in chill] == ["Late Night chill", "CHILL beats", "Chill Vibes"]
    assert [p.name for p in chill_page2] == ["Chill Vibes"]
    assert chill_count == 3
    assert wildcard == []  # LIKE wildcards in user input are literal characters
    assert ready == 0


async def test_search_folds_non_ascii_case(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions.begin() as session:
        playlist_id = await _share(session, "p", name="ÉTÉ À PARIS")

    async with sessions.begin() as session:
        found = await list_guild_catalog(session, GUILD, query="été à")
    assert [p.id for p in found] == [playlist_id]


async def test_autocomplete_prefers_prefix_matches_and_limits(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions.begin() as session:
        for index, name in enumerate(["Best of Rock", "Rock On", "Rocksteady", "Jazz"]):
            await _share(session, f"p{index}", name=name)
        for index in range(30):
            await _share(session, f"bulk{index}", name=f"Mix {index:02d}")
        ready_id = await _share(session, "ready", name="Rock Ready")
        await mark_catalog_status(session, ready_id, PlaylistStatus.READY)

    async with sessions.begin() as session:
        rock = await autocomplete_guild_playlists(session, GUILD, "rock")
        mixes = await autocomplete_guild_playlists(session, GUILD, "mix")
        everything = await autocomplete_guild_playlists(session, GUILD, "")
        ready_only = await autocomplete_guild_playlists(session, GUILD, "rock", ready_only=True)

    assert [p.name for p in rock] == ["Rock On", "Rock Ready", "Rocksteady", "Best of Rock"]
    assert len(mixes) == 25
    assert len(everything) == 25
    assert [p.id for p in ready_only] == [ready_id]


async def test_list_tracks_pages_in_position_order(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    tracks = [TrackData(f"Track {index}", ("X",), 1_000) for index in range(7)]
    async with sessions.begin() as session:
        playlist_id = await _share(session, "p")
        await replace_catalog_tracks(session, playlist_id, tracks)

    async with sessions.begin() as session:
        page = await list_tracks(session, playlist_id, limit=3, offset=3)
        everything = await list_tracks(session, playlist_id)

    assert [(t.position, t.title) for t in page] == [(3, "Track 3"), (4, "Track 4"), (5, "Track 5")]
    assert [t.position for t in everything] == list(range(7))


# -- one live share per playlist, a cap per guild ------------------------------------------

HOUR = timedelta(hours=1)


async def _claim(
    sessions: async_sessionmaker[AsyncSession],
    provider_id: str,
    *,
    stale_after: timedelta = HOUR,
    max_entries: int = 10,
    owner: int = OWNER,
) -> int:
    async with sessions.begin() as session:
        return await claim_share(
            session,
            guild_id=GUILD,
            owner_discord_user_id=owner,
            provider_playlist_id=provider_id,
            url=f"https://open.spotify.com/playlist/{provider_id}",
            name="Shared",
            stale_before=utcnow() - stale_after,
            max_entries=max_entries,
        )


async def test_a_share_is_claimed_once_until_it_finishes(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    first = await _claim(sessions, "p" * 22)

    with pytest.raises(ShareInProgress) as refused:
        await _claim(sessions, "p" * 22, owner=MEMBER)
    async with sessions.begin() as session:
        await mark_catalog_status(session, first, PlaylistStatus.READING)
    with pytest.raises(ShareInProgress):
        await _claim(sessions, "p" * 22)
    async with sessions.begin() as session:
        await mark_catalog_status(session, first, PlaylistStatus.READY)
    again = await _claim(sessions, "p" * 22, owner=MEMBER)

    assert refused.value.playlist_id == first and again == first
    async with sessions.begin() as session:
        entry = await get_catalog_playlist(session, first)
    assert entry is not None
    assert (entry.status, entry.owner_discord_user_id) == (PlaylistStatus.PENDING, OWNER)


async def test_a_share_that_died_long_ago_no_longer_blocks(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    entry_id = await _claim(sessions, "d" * 22)
    async with sessions.begin() as session:
        await session.execute(
            update(CatalogPlaylist)
            .where(CatalogPlaylist.id == entry_id)
            .values(updated_at=utcnow() - 2 * HOUR)
        )

    assert await _claim(sessions, "d" * 22) == entry_id


async def test_concurrent_claims_start_one_share(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await _claim(sessions, "c" * 22)
    async with sessions.begin() as session:
        [entry] = await list_guild_catalog(session, GUILD)
        await mark_catalog_status(session, entry.id, PlaylistStatus.READY)

    results = await asyncio.gather(
        *(_claim(sessions, "c" * 22) for _ in range(5)), return_exceptions=True
    )

    assert [r for r in results if isinstance(r, int)] == [entry.id]
    assert all(isinstance(r, ShareInProgress) for r in results if not isinstance(r, int))


async def test_a_full_catalog_refuses_new_entries_not_reshares(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    kept = await _claim(sessions, "1" * 22, max_entries=2)
    await _claim(sessions, "2" * 22, max_entries=2)
    async with sessions.begin() as session:
        await mark_catalog_status(session, kept, PlaylistStatus.READY)

    with pytest.raises(CatalogFull) as full:
        await _claim(sessions, "3" * 22, max_entries=2)

    assert full.value.limit == 2
    assert await _claim(sessions, "1" * 22, max_entries=2) == kept
    async with sessions.begin() as session:
        assert await count_guild_catalog(session, GUILD) == 2
