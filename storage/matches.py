"""Cache of track resolutions, keyed by ISRC or a normalised artist/title/duration key.

Building keys is `music.matching`'s job; this module only stores what it decided. A hit is
kept for good; a miss ("searched, not found") expires after `MISS_TTL`, since the song may
reach Spotify later, and `forget_misses` drops misses at once for a /retry.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, case, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage._sql import chunked, dialect_insert, rowcount
from storage.models import TrackMatch
from storage.types import utcnow

MISS_TTL = timedelta(days=7)


async def get_match(
    session: AsyncSession, key: str, *, miss_ttl: timedelta = MISS_TTL
) -> TrackMatch | None:
    """The cached resolution; a row with `spotify_uri=None` means "searched, not found".

    A miss older than `miss_ttl` counts as no answer, so the caller searches again.
    """
    query = select(TrackMatch).where(TrackMatch.key == key, _current(utcnow() - miss_ttl))
    result = await session.scalars(query.execution_options(populate_existing=True))
    return result.one_or_none()


async def get_matches(
    session: AsyncSession, keys: Iterable[str], *, miss_ttl: timedelta = MISS_TTL
) -> dict[str, TrackMatch]:
    """Cached resolutions of many keys at once (chunked under SQLite's variable limit);
    misses older than `miss_ttl` are left out."""
    fresh, found = _current(utcnow() - miss_ttl), {}
    for batch in chunked(sorted(set(keys))):
        rows = await session.scalars(select(TrackMatch).where(TrackMatch.key.in_(batch), fresh))
        found.update({row.key: row for row in rows})
    return found


async def forget_misses(session: AsyncSession, keys: Iterable[str]) -> int:
    """Drop the cached misses among `keys` (hits stay), so they are searched again; how many."""
    forgotten = 0
    for batch in chunked(sorted(set(keys))):
        result = await session.execute(
            delete(TrackMatch).where(TrackMatch.key.in_(batch), TrackMatch.spotify_uri.is_(None))
        )
        forgotten += rowcount(result)
    return forgotten


async def save_match(
    session: AsyncSession, key: str, spotify_uri: str | None, confidence: float
) -> None:
    """Store a resolution; safe to repeat and to race (one atomic ON CONFLICT upsert).

    A new result replaces a miss and restarts its time to live (`created_at` moves to now
    whenever a miss is replaced, and stays put while a hit is). A "not found" never
    overwrites a found match: two imports resolving the same song at once must not erase
    the one that succeeded.
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
            "created_at": case(
                (TrackMatch.spotify_uri.is_(None), stmt.excluded.created_at),
                else_=TrackMatch.created_at,
            ),
            "updated_at": stmt.excluded.updated_at,
        },
        where=stmt.excluded.spotify_uri.is_not(None) | TrackMatch.spotify_uri.is_(None),
    )
    await session.execute(stmt)


def _current(miss_cutoff: datetime) -> ColumnElement[bool]:
    """Hits, and misses recorded after `miss_cutoff`."""
    return TrackMatch.spotify_uri.is_not(None) | (TrackMatch.created_at > miss_cutoff)
