"""Engine setup: SQLite pragmas for two writing processes, sessions usable after commit."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import make_url, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from storage.catalog import (
    TrackData,
    delete_catalog_playlist,
    list_tracks,
    replace_catalog_tracks,
    upsert_catalog_playlist,
)
from storage.engine import SQLITE_BUSY_TIMEOUT_MS, async_url, create_engine, make_sessionmaker
from storage.models import CatalogTrack, OAuthState


async def test_sqlite_file_gets_wal_foreign_keys_busy_timeout_and_directory(
    tmp_path: Path,
) -> None:
    path = tmp_path / "nested" / "dir" / "mixtape.db"
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    try:
        async with engine.connect() as connection:
            journal = (await connection.exec_driver_sql("PRAGMA journal_mode")).scalar()
            foreign_keys = (await connection.exec_driver_sql("PRAGMA foreign_keys")).scalar()
            busy = (await connection.exec_driver_sql("PRAGMA busy_timeout")).scalar()
    finally:
        await engine.dispose()

    assert path.exists()
    assert journal == "wal"
    assert foreign_keys == 1
    assert busy == SQLITE_BUSY_TIMEOUT_MS


async def test_sqlite_writers_from_two_engines_queue_instead_of_failing(tmp_path: Path) -> None:
    """Two engines stand in for the bot and the worker writing the same file."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}"
    engines = [create_engine(url), create_engine(url)]
    try:
        async with engines[0].begin() as connection:
            await connection.exec_driver_sql("CREATE TABLE counter (n INTEGER NOT NULL)")
            await connection.exec_driver_sql("INSERT INTO counter VALUES (0)")

        async def bump(engine: AsyncEngine) -> None:
            for _ in range(20):
                async with engine.begin() as connection:
                    # Read, then write: fails with SQLITE_BUSY under deferred transactions.
                    n = (await connection.exec_driver_sql("SELECT n FROM counter")).scalar_one()
                    await asyncio.sleep(0)
                    await connection.exec_driver_sql("UPDATE counter SET n = ?", (n + 1,))

        await asyncio.gather(*(bump(engine) for engine in engines))
        async with engines[0].connect() as connection:
            total = (await connection.exec_driver_sql("SELECT n FROM counter")).scalar_one()
    finally:
        for engine in engines:
            await engine.dispose()

    assert total == 40


async def test_foreign_keys_cascade_catalog_tracks(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions.begin() as session:
        playlist_id = await upsert_catalog_playlist(
            session, guild_id=1, owner_discord_user_id=2, provider_playlist_id="p", url="u"
        )
        await replace_catalog_tracks(session, playlist_id, [TrackData("a"), TrackData("b")])

    async with sessions.begin() as session:
        assert await delete_catalog_playlist(session, 1, playlist_id)

    async with sessions.begin() as session:
        assert await list_tracks(session, playlist_id) == []
        assert (await session.scalars(select(CatalogTrack))).all() == []


async def test_foreign_keys_are_enforced(sessions: async_sessionmaker[AsyncSession]) -> None:
    with pytest.raises(Exception, match="(?i)foreign key"):
        async with sessions.begin() as session:
            session.add(CatalogTrack(playlist_id=999_999, position=0, title="orphan"))


async def test_objects_stay_readable_after_commit(engine: AsyncEngine) -> None:
    sessions = make_sessionmaker(engine)
    async with sessions.begin() as session:
        state = OAuthState(
            state_hash="h" * 64,
            discord_user_id=1,
            expires_at=datetime(2030, 1, 1, tzinfo=UTC),
        )
        session.add(state)

    assert state.discord_user_id == 1  # no expired attributes, no lazy IO after commit


async def test_datetimes_come_back_aware_utc_and_compare(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    local = datetime(2030, 1, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    async with sessions.begin() as session:
        session.add(OAuthState(state_hash="x" * 64, discord_user_id=1, expires_at=local))

    async with sessions.begin() as session:
        stored = await session.scalar(
            select(OAuthState.expires_at).where(
                OAuthState.expires_at > datetime(2030, 1, 1, 9, 59, tzinfo=UTC)
            )
        )
        later = await session.scalar(
            select(OAuthState.expires_at).where(
                OAuthState.expires_at > datetime(2030, 1, 1, 10, 1, tzinfo=UTC)
            )
        )

    assert stored == datetime(2030, 1, 1, 10, 0, tzinfo=UTC)
    assert stored is not None and stored.tzinfo is UTC
    assert later is None


async def test_naive_datetimes_are_refused(sessions: async_sessionmaker[AsyncSession]) -> None:
    with pytest.raises(Exception, match="naive datetime"):
        async with sessions.begin() as session:
            session.add(
                OAuthState(state_hash="n" * 64, discord_user_id=1, expires_at=datetime(2030, 1, 1))
            )


async def test_engine_pings_pooled_connections(engine: AsyncEngine) -> None:
    assert engine.pool._pre_ping  # a connection dropped by the server is replaced, not used
    async with engine.connect() as connection:
        assert (await connection.execute(text("SELECT 1"))).scalar() == 1


@pytest.mark.parametrize(
    ("given", "driver"),
    [
        ("postgres://u:p@db:5432/mixtape", "postgresql+asyncpg"),
        ("postgresql://u@db/mixtape", "postgresql+asyncpg"),
        ("postgresql+asyncpg://u@db/mixtape", "postgresql+asyncpg"),
        ("sqlite:///.data/mixtape.db", "sqlite+aiosqlite"),
    ],
)
def test_urls_without_an_async_driver_get_one(given: str, driver: str) -> None:
    url = async_url(given)

    assert url.drivername == driver
    assert url.database == make_url(given).database


async def test_in_memory_sqlite_is_one_shared_database() -> None:
    engine = create_engine("sqlite://")
    try:
        async with engine.begin() as connection:
            await connection.exec_driver_sql("CREATE TABLE t (x INTEGER)")
        async with engine.connect() as connection:
            assert (await connection.exec_driver_sql("SELECT count(*) FROM t")).scalar() == 0
    finally:
        await engine.dispose()
