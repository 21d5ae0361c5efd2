"""How a change of a followed entry is measured: per song, against the last complete read,
whatever happened to the reads in between."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage import catalog, follows
from storage.catalog import TrackData
from storage.follows import Change, compare

GUILD, OWNER = 100_000_000_000_000_001, 200_000_000_000_000_001


def _tracks(*letters: str) -> list[TrackData]:
    return [
        TrackData(f"Song {x}", ("Artist",), 1_000, None, None, x * 22, "spotify:track:" + x * 22)
        for x in letters
    ]


async def _entry(session: AsyncSession) -> int:
    return await catalog.upsert_catalog_playlist(
        session,
        guild_id=GUILD,
        owner_discord_user_id=OWNER,
        provider_playlist_id="p" * 22,
        url="https://open.spotify.com/playlist/" + "p" * 22,
        name="Late Night Drive",
    )


def test_compare_counts_added_removed_and_moved_songs() -> None:
    assert compare("abcd", "abcd") == Change(0, 0, 0)
    assert compare("abcd", "abcde") == Change(1, 0, 0)
    assert compare("abcd", "acd") == Change(0, 1, 0)
    assert compare("abcd", "acdb") == Change(0, 0, 1)  # b moved to the end
    assert compare("abcd", "dcba") == Change(0, 0, 3)
    assert compare("ab", "abab") == Change(2, 0, 0)  # a second copy of each is added
    assert compare("aab", "ab") == Change(0, 1, 0)


SONGS = st.lists(st.sampled_from("abcdef"), max_size=12)


@given(SONGS, SONGS)
def test_compare_is_total_and_bounded(before: list[str], after: list[str]) -> None:
    change = compare(before, after)
    kept = len(before) - change.removed
    assert kept == len(after) - change.added  # what stays is counted the same from both sides
    assert 0 <= change.moved <= max(kept - 1, 0)
    assert change.changed == (before != after)


async def test_a_change_is_measured_against_the_last_complete_read(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions.begin() as s:
        entry = await _entry(s)
        await catalog.replace_catalog_tracks(s, entry, _tracks(*"abcd"))
        assert await follows.measure_change(s, entry) is None  # the first read: no change

    # A re-read starts, writes half of a new version, and fails; the next one completes.
    async with sessions.begin() as s:
        await follows.remember_previous(s, entry)
        await catalog.replace_catalog_track_range(s, entry, 0, _tracks(*"xy"))
    async with sessions.begin() as s:
        await follows.remember_previous(s, entry)  # keeps abcd, not the half-written xycd
        await catalog.replace_catalog_tracks(s, entry, _tracks(*"abdce"))
        change = await follows.measure_change(s, entry)
        row = await catalog.get_catalog_playlist(s, entry)

    assert change == Change(added=1, removed=0, moved=1)
    assert row is not None and row.changed_at is not None
    assert (row.change_added, row.change_removed, row.change_moved) == (1, 0, 1)
    async with sessions.begin() as s:  # the previous read is gone once measured
        await follows.remember_previous(s, entry)
        assert await follows.measure_change(s, entry) == Change(0, 0, 0)
