"""OAuth states: stored hashed, single use, expiring, bound to the member who ran /link and
to the one browser that pressed our page's button (by its PKCE challenge)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.models import OAuthState
from storage.oauth_states import (
    LinkRequest,
    StateRejection,
    bind_browser,
    consume_state,
    create_state,
    find_state,
    hash_state,
    purge_expired_states,
)

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
TTL = timedelta(minutes=10)
ALICE, BOB, GUILD = 111_111_111_111_111_111, 222_222_222_222_222_222, 999_999_999_999_999_999
#: Two browsers' PKCE challenges (only ever compared, so any distinct strings do).
MINE, THEIRS = "c" * 43, "d" * 43
ALICE_LINK = LinkRequest(ALICE, GUILD, "Alice", "alice", "Jazz Club", MINE)


async def _create(
    sessions: async_sessionmaker[AsyncSession], user: int = ALICE, guild: int | None = GUILD
) -> str:
    async with sessions.begin() as session:
        return await create_state(
            session,
            user,
            guild,
            TTL,
            display_name="Alice" if user == ALICE else None,
            username="alice" if user == ALICE else None,
            guild_name="Jazz Club" if guild else None,
            now=NOW,
        )


async def _bind(
    sessions: async_sessionmaker[AsyncSession],
    raw: str,
    challenge: str = MINE,
    now: datetime = NOW,
) -> LinkRequest | StateRejection:
    async with sessions.begin() as session:
        return await bind_browser(session, raw, challenge, now=now)


async def _consume(
    sessions: async_sessionmaker[AsyncSession],
    raw: str,
    challenge: str | None = MINE,
    now: datetime = NOW,
) -> LinkRequest | StateRejection:
    async with sessions.begin() as session:
        return await consume_state(session, raw, challenge, now=now)


async def _row(sessions: async_sessionmaker[AsyncSession], raw: str) -> OAuthState | None:
    async with sessions.begin() as session:
        return await session.get(OAuthState, hash_state(raw))


async def test_only_the_hash_is_stored(sessions: async_sessionmaker[AsyncSession]) -> None:
    raw = await _create(sessions)

    async with sessions.begin() as session:
        rows = (await session.scalars(select(OAuthState))).all()

    assert len(raw) >= 40
    assert [row.state_hash for row in rows] == [hash_state(raw)]
    assert raw not in rows[0].state_hash
    assert rows[0].expires_at == NOW + TTL
    assert rows[0].used_at is None and rows[0].code_challenge is None


async def test_the_page_finds_whose_link_it_is_without_spending_it(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    raw = await _create(sessions)

    async with sessions.begin() as session:
        found = await find_state(session, raw, now=NOW)

    assert found == LinkRequest(ALICE, GUILD, "Alice", "alice", "Jazz Club", None)
    assert await _bind(sessions, raw) == ALICE_LINK
    assert await _consume(sessions, raw) == ALICE_LINK


async def test_state_is_single_use(sessions: async_sessionmaker[AsyncSession]) -> None:
    raw = await _create(sessions)
    await _bind(sessions, raw)

    first = await _consume(sessions, raw)
    second = await _consume(sessions, raw, now=NOW + timedelta(seconds=1))

    assert first == ALICE_LINK
    assert second is StateRejection.USED
    assert await _bind(sessions, raw) is StateRejection.USED


async def test_only_the_first_browser_binds_and_only_it_finishes(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    raw = await _create(sessions)

    assert await _consume(sessions, raw) is StateRejection.OTHER_BROWSER  # nobody pressed
    assert await _bind(sessions, raw, MINE) == ALICE_LINK
    assert await _bind(sessions, raw, MINE) == ALICE_LINK  # the same browser, again
    assert await _bind(sessions, raw, THEIRS) is StateRejection.OTHER_BROWSER
    assert await _consume(sessions, raw, THEIRS) is StateRejection.OTHER_BROWSER
    assert await _consume(sessions, raw, None) is StateRejection.OTHER_BROWSER
    row = await _row(sessions, raw)
    assert row is not None and row.used_at is None and row.code_challenge == MINE

    assert await _consume(sessions, raw, MINE) == ALICE_LINK


async def test_expired_state_is_refused_and_stays_unused(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    raw = await _create(sessions)
    await _bind(sessions, raw)

    assert await _bind(sessions, raw, now=NOW + TTL) is StateRejection.EXPIRED
    result = await _consume(sessions, raw, now=NOW + TTL)

    assert result is StateRejection.EXPIRED
    row = await _row(sessions, raw)
    assert row is not None and row.used_at is None


async def test_unknown_state_is_refused(sessions: async_sessionmaker[AsyncSession]) -> None:
    await _create(sessions)

    assert await _consume(sessions, "made-up-state") is StateRejection.UNKNOWN
    assert await _bind(sessions, "made-up-state") is StateRejection.UNKNOWN


async def test_state_binds_to_its_own_user_not_another(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    alice_state = await _create(sessions, ALICE)
    bob_state = await _create(sessions, BOB, None)
    await _bind(sessions, alice_state)
    await _bind(sessions, bob_state, THEIRS)

    assert await _consume(sessions, bob_state, THEIRS) == LinkRequest(
        BOB, None, None, None, None, THEIRS
    )
    assert await _consume(sessions, alice_state) == ALICE_LINK


async def test_a_new_state_replaces_the_members_pending_one(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    old = await _create(sessions)
    bob_state = await _create(sessions, BOB, None)
    new = await _create(sessions)

    assert await _bind(sessions, old) is StateRejection.UNKNOWN
    assert await _bind(sessions, new) == ALICE_LINK
    assert isinstance(await _bind(sessions, bob_state, THEIRS), LinkRequest)


async def test_concurrent_double_consume_succeeds_once(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    for _ in range(5):
        raw = await _create(sessions)
        await _bind(sessions, raw)

        results = await asyncio.gather(*(_consume(sessions, raw) for _ in range(4)))

        winners = [result for result in results if isinstance(result, LinkRequest)]
        assert winners == [ALICE_LINK]
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
