"""The development-mode waitlist: revision 0002 on both databases, and its repository."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from alembic import command
from sqlalchemy import inspect
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.engine import create_engine
from storage.migrate import alembic_config, current_revision, upgrade_to_head
from storage.waitlist import clear_waiting, count_waiting, list_waiting, record_refusal

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
ALICE, BOB, CAROL = 111_111_111_111_111_111, 222_222_222_222_222_222, 333_333_333_333_333_333
GUILD, OTHER_GUILD = 900_000_000_000_000_001, 900_000_000_000_000_002


async def _columns(url: str) -> dict[str, bool]:
    """Column name -> nullable of link_waitlist, or {} when the table is absent."""
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:

            def read(sync: Connection) -> dict[str, bool]:
                inspector = inspect(sync)
                if "link_waitlist" not in inspector.get_table_names():
                    return {}
                return {c["name"]: c["nullable"] for c in inspector.get_columns("link_waitlist")}

            return await connection.run_sync(read)
    finally:
        await engine.dispose()


async def _migrate(url: str, target: str, *, down: bool = False) -> None:
    def run(connection: Connection) -> None:
        config = alembic_config(url)
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, target)

    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(run)
    finally:
        await engine.dispose()


async def test_0002_adds_the_waitlist_on_top_of_0001(database_url: str) -> None:
    await _migrate(database_url, "0001")
    assert await _columns(database_url) == {}

    await _migrate(database_url, "0002")

    assert await current_revision(database_url) == "0002"
    assert await _columns(database_url) == {
        "discord_user_id": False,
        "guild_id": True,
        "display_name": True,
        "first_refused_at": False,
        "last_refused_at": False,
        "attempts": False,
    }


async def test_0002_downgrades_to_0001_and_back(migrated_url: str) -> None:
    await _migrate(migrated_url, "0001", down=True)
    assert await current_revision(migrated_url) == "0001"
    assert await _columns(migrated_url) == {}

    await upgrade_to_head(migrated_url)
    assert "attempts" in await _columns(migrated_url)


async def test_refusals_are_counted_and_keep_the_first_time(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions.begin() as session:
        await record_refusal(session, ALICE, guild_id=GUILD, display_name="alice", now=NOW)
    async with sessions.begin() as session:
        later = NOW + timedelta(minutes=5)
        entry = await record_refusal(session, ALICE, guild_id=GUILD, now=later)

    assert entry.attempts == 2
    assert entry.first_refused_at == NOW
    assert entry.last_refused_at == NOW + timedelta(minutes=5)
    assert entry.display_name == "alice"  # a refusal without a name keeps the known one


async def test_listing_is_per_guild_and_oldest_first(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions.begin() as session:
        await record_refusal(session, BOB, guild_id=GUILD, now=NOW + timedelta(minutes=1))
        await record_refusal(session, ALICE, guild_id=GUILD, now=NOW)
        await record_refusal(session, CAROL, guild_id=OTHER_GUILD, now=NOW)

    async with sessions.begin() as session:
        waiting = [e.discord_user_id for e in await list_waiting(session, GUILD)]
        others = [e.discord_user_id for e in await list_waiting(session, OTHER_GUILD)]
        counts = (await count_waiting(session, GUILD), await count_waiting(session, OTHER_GUILD))

    assert waiting == [ALICE, BOB]
    assert others == [CAROL]
    assert counts == (2, 1)


async def test_a_successful_link_clears_the_entry(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions.begin() as session:
        await record_refusal(session, ALICE, guild_id=GUILD, now=NOW)

    async with sessions.begin() as session:
        assert await clear_waiting(session, ALICE) is True
    async with sessions.begin() as session:
        assert await clear_waiting(session, ALICE) is False
        assert await list_waiting(session, GUILD) == []


async def test_concurrent_refusals_count_every_attempt(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async def refuse() -> None:
        async with sessions.begin() as session:
            await record_refusal(session, ALICE, guild_id=GUILD)

    await asyncio.gather(*(refuse() for _ in range(5)))

    async with sessions.begin() as session:
        [entry] = await list_waiting(session, GUILD)
    assert entry.attempts == 5
