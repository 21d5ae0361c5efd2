"""Rate gates on both databases: closed until a deadline, and a later deadline wins."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.rate_gates import close_until, closed_until
from storage.types import utcnow


async def test_gate_closes_and_keeps_the_latest_deadline(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    now = utcnow()
    async with sessions.begin() as s:
        assert await closed_until(s, "spotify") is None
        await close_until(s, "spotify", now + timedelta(seconds=30))
        await close_until(s, "spotify", now + timedelta(seconds=10))  # earlier: ignored
    async with sessions.begin() as s:
        until = await closed_until(s, "spotify", now=now)
        assert until is not None and abs((until - now).total_seconds() - 30) < 0.01
        assert await closed_until(s, "spotify", now=now + timedelta(seconds=31)) is None
        assert await closed_until(s, "other", now=now) is None
        await close_until(s, "spotify", now + timedelta(seconds=60))
    async with sessions.begin() as s:
        assert await closed_until(s, "spotify", now=now + timedelta(seconds=59)) is not None
