"""Single-use, expiring OAuth `state` values that bind a /link to a member and a browser.

A state is made by /link for one Discord member, shown on our page before Spotify (which
names that member), bound to the browser that presses the page's button (by the PKCE
challenge whose verifier that browser keeps in a cookie), and spent once by the callback
in that same browser.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage._sql import rowcount
from storage.models import OAuthState
from storage.types import utcnow


class StateRejection(StrEnum):
    """Why a state was refused (each gets its own user-facing message)."""

    UNKNOWN = "unknown"
    EXPIRED = "expired"
    USED = "used"
    #: Another browser pressed our page's button, or this one never did.
    OTHER_BROWSER = "other_browser"


@dataclass(frozen=True, slots=True)
class LinkRequest:
    """Who ran the /link a state belongs to, as our pages name them."""

    discord_user_id: int
    guild_id: int | None
    display_name: str | None = None
    username: str | None = None
    guild_name: str | None = None
    #: The PKCE challenge of the browser bound to it (None until our page's button).
    code_challenge: str | None = None


def hash_state(raw_state: str) -> str:
    """Only this digest is stored, so reading the table does not yield usable states."""
    return hashlib.sha256(raw_state.encode("utf-8")).hexdigest()


_COLUMNS = (
    OAuthState.discord_user_id,
    OAuthState.guild_id,
    OAuthState.discord_display_name,
    OAuthState.discord_username,
    OAuthState.guild_name,
    OAuthState.code_challenge,
)


def _request(row: Mapping[Any, Any]) -> LinkRequest:
    return LinkRequest(
        discord_user_id=row["discord_user_id"],
        guild_id=row["guild_id"],
        display_name=row["discord_display_name"],
        username=row["discord_username"],
        guild_name=row["guild_name"],
        code_challenge=row["code_challenge"],
    )


async def create_state(
    session: AsyncSession,
    discord_user_id: int,
    guild_id: int | None,
    ttl: timedelta,
    *,
    display_name: str | None = None,
    username: str | None = None,
    guild_name: str | None = None,
    now: datetime | None = None,
) -> str:
    """A fresh unguessable state for the /link URL; only its hash is stored.

    It replaces the member's unspent ones: a link sent somewhere by mistake stops working
    as soon as the member runs /link again.
    """
    now = now or utcnow()
    raw_state = secrets.token_urlsafe(32)
    await session.execute(
        delete(OAuthState).where(
            OAuthState.discord_user_id == discord_user_id, OAuthState.used_at.is_(None)
        )
    )
    session.add(
        OAuthState(
            state_hash=hash_state(raw_state),
            discord_user_id=discord_user_id,
            guild_id=guild_id,
            discord_display_name=display_name,
            discord_username=username,
            guild_name=guild_name,
            created_at=now,
            expires_at=now + ttl,
        )
    )
    await session.flush()
    return raw_state


async def _why_not(
    session: AsyncSession, state_hash: str, now: datetime
) -> StateRejection | LinkRequest:
    """The pending request, or why the state cannot be used (no change)."""
    found = (
        await session.execute(
            select(OAuthState.used_at, OAuthState.expires_at, *_COLUMNS).where(
                OAuthState.state_hash == state_hash
            )
        )
    ).one_or_none()
    if found is None:
        return StateRejection.UNKNOWN
    if found.used_at is not None:
        return StateRejection.USED
    if found.expires_at <= now:
        return StateRejection.EXPIRED
    return _request(found._mapping)


async def find_state(
    session: AsyncSession, raw_state: str, *, now: datetime | None = None
) -> LinkRequest | StateRejection:
    """The /link a pending state belongs to, for our page before Spotify; spends nothing."""
    return await _why_not(session, hash_state(raw_state), now or utcnow())


async def bind_browser(
    session: AsyncSession, raw_state: str, code_challenge: str, *, now: datetime | None = None
) -> LinkRequest | StateRejection:
    """Bind a pending state to the browser whose PKCE verifier hashes to `code_challenge`.

    The first browser to press our page's button wins (one conditional UPDATE); the same
    browser may press again, any other is refused.
    """
    now = now or utcnow()
    state_hash = hash_state(raw_state)
    await session.execute(
        update(OAuthState)
        .where(
            OAuthState.state_hash == state_hash,
            OAuthState.used_at.is_(None),
            OAuthState.expires_at > now,
            OAuthState.code_challenge.is_(None),
        )
        .values(code_challenge=code_challenge)
        .execution_options(synchronize_session=False)
    )
    found = await _why_not(session, state_hash, now)
    if isinstance(found, LinkRequest) and found.code_challenge != code_challenge:
        return StateRejection.OTHER_BROWSER
    return found


async def consume_state(
    session: AsyncSession,
    raw_state: str,
    code_challenge: str | None,
    *,
    now: datetime | None = None,
) -> LinkRequest | StateRejection:
    """Spend a state once, and only in the browser bound to it.

    One conditional UPDATE claims it, so of two concurrent callbacks with the same state
    exactly one wins: PostgreSQL re-checks `used_at IS NULL` after the row lock, and SQLite
    runs the transactions one at a time. A callback from another browser (no cookie, or
    another verifier) changes nothing.
    """
    now = now or utcnow()
    state_hash = hash_state(raw_state)
    if code_challenge is not None:
        claimed = await session.execute(
            update(OAuthState)
            .where(
                OAuthState.state_hash == state_hash,
                OAuthState.used_at.is_(None),
                OAuthState.expires_at > now,
                OAuthState.code_challenge == code_challenge,
            )
            .values(used_at=now)
            .returning(*_COLUMNS)
            .execution_options(synchronize_session=False)
        )
        row = claimed.one_or_none()
        if row is not None:
            return _request(row._mapping)
    found = await _why_not(session, state_hash, now)
    return StateRejection.OTHER_BROWSER if isinstance(found, LinkRequest) else found


async def purge_expired_states(session: AsyncSession, *, now: datetime | None = None) -> int:
    """Delete states past their expiry (used or not); they can never be consumed again."""
    stmt = delete(OAuthState).where(OAuthState.expires_at <= (now or utcnow()))
    return rowcount(await session.execute(stmt))
