"""OAuth states: stored hashed, single use, expiring, bound to the user who ran /link."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.models import OAuthState
from storage.oauth_states import (
    ConsumedState,
    StateRejection,
    consume_state,
    create_state,
    hash_state,
    purge_expired_states,
)

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
TTL = timedelta(minutes=10)
ALICE, BOB, GUILD = 111_111_111_111_111_111, 222_222_222_222_222_222, 999_999_999_999_999_999


async def _create(
    sessions: async_sessionmaker[AsyncSession], user: int = ALICE, guild: int | None = GUILD
) -> str:
    async with sessions.begin() as session:
        return await create_state(session, user, guild, TTL, now=NOW)


async def _consume(
    sessions: async_sessionmaker[AsyncSession], raw: str, now: datetime = NOW
) -> ConsumedState | StateRejection:
    async with sessions.begin() as session:
        return await consume_state(session, raw, now=now)


async def test_only_the_hash_is_stored(sessions: async_sessionmaker[AsyncSession]) -> None:
    raw = await _create(sessions)

    async with sessions.begin() as session:
        rows = (await session.scalars(select(OAuthState))).all()

    assert len(raw) >= 40
    assert [row.state_hash for row in rows] == [hash_state(raw)]
    assert raw not in rows[0].state_hash
    assert rows[0].expires_at == NOW + TTL
    assert rows[0].used_at is None


async def test_state_is_single_use(sessions: async_sessionmaker[AsyncSession]) -> None:
    raw = await _create(sessions)

    first = await _consume(sessions, raw)
    second = await _consume(sessions, raw, NOW + timedelta(seconds=1))

    assert first == ConsumedState(discord_user_id=ALICE, guild_id=GUILD)
    assert second is StateRejection.USED


async def test_expired_state_is_refused_and_stays_unused(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    raw = await _create(sessions)

    result = await _consume(sessions, raw, NOW + TTL)

    assert result is StateRejection.EXPIRED
    async with sessions.begin() as session:
        row = await session.get(OAuthState, hash_state(raw))
    assert row is not None and row.used_at is None


async def test_unknown_state_is_refused(sessions: async_sessionmaker[AsyncSession]) -> None:
    await _create(sessions)

    assert await _consume(sessions, "made-up-state") is StateRejection.UNKNOWN


async def test_state_binds_to_its_own_user_not_another(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    alice_state = await _create(sessions, ALICE)
    bob_state = await _create(sessions, BOB, None)

    assert await _consume(sessions, bob_state) == ConsumedState(discord_user_id=BOB, guild_id=None)
    assert await _consume(sessions, alice_state) == ConsumedState(
        discord_user_id=ALICE, guild_id=GUILD
    )


async def test_concurrent_double_consume_succeeds_once(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    for _ in range(5):
        raw = await _create(sessions)

        results = await asyncio.gather(*(_consume(sessions, raw) for _ in range(4)))

        winners = [result for result in results if isinstance(result, ConsumedState)]
        assert winners == [ConsumedState(discord_user_id=ALICE, guild_id=GUILD)]
        assert set(results) - set(winners) == {StateRejection.USED}


async def test_purge_removes_only_expired_states(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await _create(sessions)
    async with sessions.begin() as session:
        fresh = await create_state(session, BOB, None, TTL, now=NOW + TTL)

    async with sessions.begin() as session:
        assert await purge_expired_states(session, now=NOW + TTL) == 1

    async with sessions.begin() as session:
        remaining = (await session.scalars(select(OAuthState.state_hash))).all()
    assert remaining == [hash_state(fresh)]
