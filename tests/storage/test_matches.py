"""Match cache: idempotent, race-safe upsert; a miss never erases a hit; misses expire."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.matches import forget_misses, get_match, get_matches, save_match
from storage.models import TrackMatch

KEY = "isrc:USRC17607839"


async def _save(
    sessions: async_sessionmaker[AsyncSession], uri: str | None, confidence: float, key: str = KEY
) -> None:
    async with sessions.begin() as session:
        await save_match(session, key, uri, confidence)


async def _get(sessions: async_sessionmaker[AsyncSession], key: str = KEY) -> TrackMatch | None:
    async with sessions.begin() as session:
        return await get_match(session, key)


async def _count(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions.begin() as session:
        return int(await session.scalar(select(func.count()).select_from(TrackMatch)) or 0)


async def test_save_twice_is_one_row(sessions: async_sessionmaker[AsyncSession]) -> None:
    assert await _get(sessions) is None

    await _save(sessions, "spotify:track:1", 1.0)
    first = await _get(sessions)
    await _save(sessions, "spotify:track:1", 1.0)
    second = await _get(sessions)

    assert await _count(sessions) == 1
    assert first is not None and second is not None
    assert (second.spotify_uri, second.confidence) == ("spotify:track:1", 1.0)
    assert second.created_at == first.created_at
    assert second.updated_at >= first.updated_at


async def test_better_match_replaces_and_miss_does_not_erase_a_hit(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    key = "artist|title|180"
    await _save(sessions, None, 0.0, key)  # searched, not found
    miss = await _get(sessions, key)
    await _save(sessions, "spotify:track:2", 0.8, key)
    await _save(sessions, None, 0.0, key)
    hit = await _get(sessions, key)

    assert miss is not None and miss.spotify_uri is None
    assert hit is not None and (hit.spotify_uri, hit.confidence) == ("spotify:track:2", 0.8)
    assert await _count(sessions) == 1


async def test_concurrent_saves_of_one_key(sessions: async_sessionmaker[AsyncSession]) -> None:
    await asyncio.gather(*(_save(sessions, f"spotify:track:{i}", 0.9) for i in range(5)))

    match = await _get(sessions)
    assert await _count(sessions) == 1
    assert match is not None and match.spotify_uri in {f"spotify:track:{i}" for i in range(5)}


async def test_many_keys_at_once_past_one_chunk(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    keys = [f"isrc:K{i:05d}" for i in range(1_200)]  # more than one chunk of the IN list
    for i, key in enumerate(keys[:1_100]):
        await _save(sessions, None if i == 7 else f"spotify:track:{i}", 1.0, key=key)

    async with sessions.begin() as session:
        found = await get_matches(session, [*keys, keys[0]])

    assert len(found) == 1_100
    assert found[keys[1_099]].spotify_uri == "spotify:track:1099"
    assert found[keys[7]].spotify_uri is None  # "searched, not found" is an answer too
    assert keys[1_100] not in found


TTL = timedelta(seconds=1)


async def _keys(sessions: async_sessionmaker[AsyncSession]) -> dict[str, str | None]:
    async with sessions.begin() as session:
        rows = await session.scalars(select(TrackMatch))
        return {row.key: row.spotify_uri for row in rows}


async def test_a_miss_expires_and_a_hit_does_not(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await _save(sessions, None, 0.0, "meta2:a|miss|20")
    await _save(sessions, "spotify:track:1", 1.0, "meta2:a|hit|20")
    async with sessions.begin() as session:
        fresh = await get_match(session, "meta2:a|miss|20", miss_ttl=TTL)
    await asyncio.sleep(TTL.total_seconds() + 0.1)

    async with sessions.begin() as session:
        expired = await get_match(session, "meta2:a|miss|20", miss_ttl=TTL)
        hit = await get_match(session, "meta2:a|hit|20", miss_ttl=TTL)
        both = await get_matches(session, ["meta2:a|miss|20", "meta2:a|hit|20"], miss_ttl=TTL)
        by_default = await get_match(session, "meta2:a|miss|20")

    assert fresh is not None and fresh.spotify_uri is None
    assert expired is None
    assert hit is not None and hit.spotify_uri == "spotify:track:1"
    assert {key: row.spotify_uri for key, row in both.items()} == {
        "meta2:a|hit|20": "spotify:track:1"
    }
    assert by_default is not None and by_default.spotify_uri is None  # a week is not over
    assert await _keys(sessions) == {"meta2:a|miss|20": None, "meta2:a|hit|20": "spotify:track:1"}


async def test_a_new_search_after_expiry_is_stored(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    key = "meta2:a|song|20"
    await _save(sessions, None, 0.0, key)
    first = await _get(sessions, key)
    await asyncio.sleep(TTL.total_seconds() + 0.1)

    await _save(sessions, None, 0.0, key)  # searched again, still not there
    async with sessions.begin() as session:
        again = await get_match(session, key, miss_ttl=TTL)
    await _save(sessions, "spotify:track:9", 0.9, key)  # and later found
    async with sessions.begin() as session:
        found = await get_match(session, key, miss_ttl=timedelta(0))

    assert first is not None and again is not None
    assert again.spotify_uri is None and again.created_at > first.created_at  # a fresh miss
    assert found is not None and (found.spotify_uri, found.confidence) == ("spotify:track:9", 0.9)
    assert await _keys(sessions) == {key: "spotify:track:9"}


async def test_forget_misses_drops_only_the_named_misses(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    misses = [f"meta2:a|miss {i}|20" for i in range(600)]  # more than one chunk
    async with sessions.begin() as session:
        for key in misses:
            await save_match(session, key, None, 0.0)
        await save_match(session, "meta2:a|hit|20", "spotify:track:1", 1.0)

    async with sessions.begin() as session:
        forgotten = await forget_misses(
            session, [*misses[:550], misses[0], "meta2:a|hit|20", "meta2:a|never saved|20"]
        )
    async with sessions.begin() as session:
        nothing_left = await forget_misses(session, misses[:550])

    assert (forgotten, nothing_left) == (550, 0)
    assert await _keys(sessions) == {
        **{key: None for key in misses[550:]},
        "meta2:a|hit|20": "spotify:track:1",
    }
