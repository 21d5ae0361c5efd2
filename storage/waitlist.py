"""Members waiting to be added to the Spotify app's development-mode allow-list."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage._sql import dialect_insert, rowcount
from storage.models import LinkWaitlistEntry
from storage.types import utcnow


async def record_refusal(
    session: AsyncSession,
    discord_user_id: int,
    *,
    guild_id: int | None,
    display_name: str | None = None,
    now: datetime | None = None,
) -> LinkWaitlistEntry:
    """Note (or count again) a refused /link; one atomic upsert, safe to race.

    A later refusal without a name keeps the name an earlier one knew.
    """
    now = now or utcnow()
    stmt = dialect_insert(session, LinkWaitlistEntry).values(
        discord_user_id=discord_user_id,
        guild_id=guild_id,
        display_name=display_name,
        first_refused_at=now,
        last_refused_at=now,
        attempts=1,
    )
    changes: dict[str, Any] = {
        "guild_id": stmt.excluded.guild_id,
        "last_refused_at": stmt.excluded.last_refused_at,
        "attempts": LinkWaitlistEntry.attempts + 1,
    }
    if display_name is not None:
        changes["display_name"] = stmt.excluded.display_name
    await session.execute(
        stmt.on_conflict_do_update(index_elements=["discord_user_id"], set_=changes)
    )
    entry = await session.get(LinkWaitlistEntry, discord_user_id, populate_existing=True)
    assert entry is not None
    return entry


async def list_waiting(
    session: AsyncSession, guild_id: int, *, limit: int = 25
) -> list[LinkWaitlistEntry]:
    """Who from this guild is waiting, longest-waiting first (the order to add them in)."""
    stmt = (
        select(LinkWaitlistEntry)
        .where(LinkWaitlistEntry.guild_id == guild_id)
        .order_by(LinkWaitlistEntry.first_refused_at, LinkWaitlistEntry.discord_user_id)
        .limit(limit)
    )
    return list((await session.scalars(stmt)).all())


async def count_waiting(session: AsyncSession, guild_id: int) -> int:
    """How many of this guild's members are waiting (for "and N more")."""
    stmt = select(func.count()).where(LinkWaitlistEntry.guild_id == guild_id)
    return int(await session.scalar(stmt) or 0)


async def clear_waiting(session: AsyncSession, discord_user_id: int) -> bool:
    """Forget a member once a /link succeeds; False when they were not waiting."""
    stmt = delete(LinkWaitlistEntry).where(LinkWaitlistEntry.discord_user_id == discord_user_id)
    return rowcount(await session.execute(stmt)) == 1
