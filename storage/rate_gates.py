"""Shared Retry-After gates: once a service says "wait", every process waits."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage._sql import dialect_insert
from storage.models import RateGate
from storage.types import utcnow


async def closed_until(
    session: AsyncSession, key: str, *, now: datetime | None = None
) -> datetime | None:
    """When the gate opens, if it is closed now; None when calls may go out."""
    until = await session.scalar(select(RateGate.until).where(RateGate.key == key))
    return until if until is not None and until > (now or utcnow()) else None


async def close_until(session: AsyncSession, key: str, until: datetime) -> None:
    """Close the gate until `until`; a later deadline already set is kept (one upsert)."""
    insert = dialect_insert(session, RateGate).values(key=key, until=until)
    await session.execute(
        insert.on_conflict_do_update(
            index_elements=[RateGate.key],
            set_={"until": insert.excluded.until},
            where=RateGate.until < insert.excluded.until,
        )
    )
