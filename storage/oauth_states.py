"""Single-use, expiring OAuth `state` values that bind a /link to the Discord user."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage._sql import rowcount
from storage.models import OAuthState
from storage.types import utcnow


class StateRejection(StrEnum):
    """Why a callback's state was refused (each gets its own user-facing message)."""

    UNKNOWN = "unknown"
    EXPIRED = "expired"
    USED = "used"


@dataclass(frozen=True, slots=True)
class ConsumedState:
    """Who started the /link that this callback completes."""

    discord_user_id: int
    guild_id: int | None


def hash_state(raw_state: str) -> str:
    """Only this digest is stored, so reading the table does not yield usable states."""
    return hashlib.sha256(raw_state.encode("utf-8")).hexdigest()


async def create_state(
    session: AsyncSession,
    discord_user_id: int,
    guild_id: int | None,
    ttl: timedelta,
    *,
    now: datetime | None = None,
) -> str:
    """A fresh unguessable state for the authorize URL; only its hash is stored."""
    now = now or utcnow()
    raw_state = secrets.token_urlsafe(32)
    session.add(
        OAuthState(
            state_hash=hash_state(raw_state),
            discord_user_id=discord_user_id,
            guild_id=guild_id,
            created_at=now,
            expires_at=now + ttl,
        )
    )
    await session.flush()
    return raw_state


async def consume_state(
    session: AsyncSession, raw_state: str, *, now: datetime | None = None
) -> ConsumedState | StateRejection:
    """Spend a state once.

    One conditional UPDATE claims it, so of two concurrent callbacks with the same state
    exactly one wins: PostgreSQL re-checks `used_at IS NULL` after the row lock, and SQLite
    runs the transactions one at a time.
    """
    now = now or utcnow()
    state_hash = hash_state(raw_state)
    claimed = await session.execute(
        update(OAuthState)
        .where(
            OAuthState.state_hash == state_hash,
            OAuthState.used_at.is_(None),
            OAuthState.expires_at > now,
        )
        .values(used_at=now)
        .returning(OAuthState.discord_user_id, OAuthState.guild_id)
        .execution_options(synchronize_session=False)
    )
    row = claimed.one_or_none()
    if row is not None:
        return ConsumedState(discord_user_id=row.discord_user_id, guild_id=row.guild_id)
    existing = await session.execute(
        select(OAuthState.used_at).where(OAuthState.state_hash == state_hash)
    )
    found = existing.one_or_none()
    if found is None:
        return StateRejection.UNKNOWN
    return StateRejection.USED if found.used_at is not None else StateRejection.EXPIRED


async def purge_expired_states(session: AsyncSession, *, now: datetime | None = None) -> int:
    """Delete states past their expiry (used or not); they can never be consumed again."""
    stmt = delete(OAuthState).where(OAuthState.expires_at <= (now or utcnow()))
    return rowcount(await session.execute(stmt))
