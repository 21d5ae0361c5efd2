"""Cache of track resolutions, keyed by ISRC or a normalised artist/title/duration key.

Building keys is `music.matching`'s job; this module only stores what it decided.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage._sql import dialect_insert
from storage.models import TrackMatch
from storage.types import utcnow

_CHUNK = 500


async def get_match(session: AsyncSession, key: str) -> TrackMatch | None:
    """The cached resolution; a row with `spotify_uri=None` means "searched, not found"."""
    return await session.get(TrackMatch, key, populate_existing=True)


async def get_matches(session: AsyncSession, keys: Iterable[str]) -> dict[str, TrackMatch]:
    """Cached resolutions of many keys at once (chunked under SQLite's variable limit)."""
    wanted, found = sorted(set(keys)), {}
    for start in range(0, len(wanted), _CHUNK):
        rows = await session.scalars(
            select(TrackMatch).where(TrackMatch.key.in_(wanted[start:start + _CHUNK])))
        found.update({row.key: row for row in rows})
    return found


async def save_match(
    session: AsyncSession, key: str, spotify_uri: str | None, confidence: float
) -> None:
    """Store a resolution; safe to repeat and to race (one atomic ON CONFLICT upsert).

    A "not found" never overwrites a found match: two imports resolving the same song at
    once must not erase the one that succeeded.
    """
    now = utcnow()
    stmt = dialect_insert(session, TrackMatch).values(
        key=key, spotify_uri=spotify_uri, confidence=confidence, created_at=now, updated_at=now
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["key"],
        set_={
            "spotify_uri": stmt.excluded.spotify_uri,
            "confidence": stmt.excluded.confidence,
            "updated_at": stmt.excluded.updated_at,
        },
        where=stmt.excluded.spotify_uri.is_not(None) | TrackMatch.spotify_uri.is_(None),
    )
    await session.execute(stmt)
