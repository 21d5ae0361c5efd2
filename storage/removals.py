"""Songs that left a followed source leave the follower's copy, if they chose that, and
only songs Mixtape put there.

Spotify's remove takes URIs, not positions, and removes every occurrence. So a song is
planned for removal only when the source no longer holds it and every occurrence in the
copy is Mixtape's: the copy holds it at most as many times as Mixtape's imports into that
copy added it (the ledger's added rows, not those found already there) less what earlier
updates removed. A song the member also added by hand is kept whole. When the ledger was
pruned by the retention period the count is unknown, and nothing is removed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage._sql import chunked, dialect_insert
from storage.enums import ItemState
from storage.models import CatalogTrack, Import, ImportItem, ImportRemoval
from storage.types import utcnow


async def plan_removals(
    session: AsyncSession, import_id: int, held: Mapping[str, int]
) -> dict[str, int]:
    """Record what this follower's update removes from its copy, given what the copy
    holds (`held`, per URI, as just read); returns it. Nothing unless the import is a
    follower's update whose member chose removal. Safe to call again (a retried settle):
    a song already planned keeps its first plan."""
    row = await session.get(Import, import_id)
    if row is None or not (row.follow_update and row.follow_remove) or not row.target_playlist_id:
        return {}
    source = await _source_uris(session, row)
    candidates = [uri for uri, n in held.items() if n > 0 and uri not in source]
    if not candidates:
        return {}
    ours = await _mixtape_held(session, row, candidates)
    plan = {uri: held[uri] for uri in candidates if held[uri] <= ours[uri]}
    for chunk in chunked(sorted(plan), 500):
        await session.execute(
            dialect_insert(session, ImportRemoval)
            .values([{"import_id": import_id, "uri": u, "occurrences": plan[u]} for u in chunk])
            .on_conflict_do_nothing(index_elements=["import_id", "uri"])
        )
    return plan


async def _source_uris(session: AsyncSession, row: Import) -> set[str]:
    """What the source holds now: the entry's URIs and what this import resolved them to
    (a song relinked for the member's country is in the copy under another URI)."""
    entry = select(CatalogTrack.provider_uri).where(
        CatalogTrack.playlist_id == row.catalog_playlist_id,
        CatalogTrack.provider_uri.is_not(None),
    )
    resolved = select(ImportItem.resolved_uri).where(
        ImportItem.import_id == row.id, ImportItem.resolved_uri.is_not(None)
    )
    found = set((await session.scalars(entry)).all()) | set((await session.scalars(resolved)).all())
    return {uri for uri in found if uri is not None}


async def _mixtape_held(session: AsyncSession, row: Import, uris: Sequence[str]) -> Counter[str]:
    """How many occurrences of each URI in the member's copy are Mixtape's: added by its
    imports into that copy, less what its updates removed."""
    same_copy = (
        Import.discord_user_id == row.discord_user_id,
        Import.target_playlist_id == row.target_playlist_id,
    )
    ours: Counter[str] = Counter()
    for chunk in chunked(list(uris), 500):
        added = await session.execute(
            select(ImportItem.resolved_uri, func.count())
            .join(Import, Import.id == ImportItem.import_id)
            .where(
                *same_copy,
                ImportItem.state == ItemState.ADDED,
                ImportItem.already_present.is_(False),
                ImportItem.resolved_uri.in_(chunk),
            )
            .group_by(ImportItem.resolved_uri)
        )
        for uri, n in added:
            if uri is not None:
                ours[uri] += n
        removed = await session.execute(
            select(ImportRemoval.uri, func.sum(ImportRemoval.occurrences))
            .join(Import, Import.id == ImportRemoval.import_id)
            .where(*same_copy, ImportRemoval.removed_at.is_not(None), ImportRemoval.uri.in_(chunk))
            .group_by(ImportRemoval.uri)
        )
        for uri, n in removed:
            ours[uri] -= int(n)
    return ours


async def pending_removals(session: AsyncSession, import_id: int) -> list[str]:
    """The planned removals Spotify has not confirmed yet, in a stable order."""
    stmt = (
        select(ImportRemoval.uri)
        .where(ImportRemoval.import_id == import_id, ImportRemoval.removed_at.is_(None))
        .order_by(ImportRemoval.uri)
    )
    return list((await session.scalars(stmt)).all())


async def mark_removed(session: AsyncSession, import_id: int, uris: Sequence[str]) -> None:
    """Spotify confirmed these removals."""
    await session.execute(
        update(ImportRemoval)
        .where(ImportRemoval.import_id == import_id, ImportRemoval.uri.in_(list(uris)))
        .values(removed_at=utcnow())
    )


async def removed_count(session: AsyncSession, import_id: int) -> int:
    """Songs this update removed from the copy (what its summary can say)."""
    stmt = select(func.count()).where(
        ImportRemoval.import_id == import_id, ImportRemoval.removed_at.is_not(None)
    )
    return int(await session.scalar(stmt) or 0)
