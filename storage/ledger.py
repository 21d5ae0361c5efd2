"""The ledger (`import_items`): where each track of an import stands.

One row per (import, position) says whether that track is pending, resolved, added, not
found, failed or skipped; it is the single source of truth for progress and for "never add
a track twice". Writes are conditional (`WHERE state ...`), so replaying a step changes
nothing; the counters on `imports` are only a cache refreshed by `counts_by_state`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from storage._sql import chunked, rowcount
from storage.enums import ItemState
from storage.models import CatalogTrack, Import, ImportItem
from storage.types import utcnow

#: States a per-track outcome may overwrite: an added or skipped track is settled.
_OPEN_STATES = (ItemState.PENDING, ItemState.RESOLVED, ItemState.NOT_FOUND, ItemState.FAILED)


@dataclass(frozen=True, slots=True)
class ImportCounts:
    """Ledger totals by state; `added` excludes tracks that were already there."""

    total: int
    pending: int
    resolved: int
    added: int
    already_present: int
    not_found: int
    failed: int
    skipped: int

    @property
    def outstanding(self) -> int:
        """Tracks still to resolve or add; zero means the import has nothing left to do."""
        return self.pending + self.resolved


async def list_items(
    session: AsyncSession,
    import_id: int,
    *,
    states: Collection[ItemState] | None = None,
    limit: int | None = None,
    after_position: int | None = None,
    positions: Collection[int] | None = None,
) -> list[ImportItem]:
    """Ledger rows in position order with their catalog track loaded (None if unshared);
    `positions`: only those (a few: one `IN` list)."""
    stmt = (
        select(ImportItem)
        .options(joinedload(ImportItem.track))
        .where(ImportItem.import_id == import_id)
        .order_by(ImportItem.position)
        .execution_options(populate_existing=True)
    )
    if states is not None:
        stmt = stmt.where(ImportItem.state.in_(list(states)))
    if after_position is not None:
        stmt = stmt.where(ImportItem.position > after_position)
    if positions is not None:
        stmt = stmt.where(ImportItem.position.in_(list(positions)))
    if limit is not None:
        stmt = stmt.limit(limit)
    return list((await session.scalars(stmt)).all())


#: The states of a track the import did not add: listed in its summary and in /imports.
NOT_IMPORTED = (ItemState.NOT_FOUND, ItemState.FAILED, ItemState.SKIPPED)


async def not_imported(
    session: AsyncSession, import_id: int, *, offset: int = 0, limit: int | None = None
) -> tuple[list[ImportItem], int]:
    """The tracks an import did not add (from `offset`, at most `limit`), and how many."""
    total = await session.scalar(
        select(func.count())
        .select_from(ImportItem)
        .where(ImportItem.import_id == import_id, ImportItem.state.in_(NOT_IMPORTED))
    )
    stmt = (
        select(ImportItem)
        .options(joinedload(ImportItem.track))
        .where(ImportItem.import_id == import_id, ImportItem.state.in_(NOT_IMPORTED))
        .order_by(ImportItem.position)
        .offset(offset)
        .execution_options(populate_existing=True)
    )
    if limit is not None:
        stmt = stmt.limit(limit)
    return list((await session.scalars(stmt)).all()), int(total or 0)


async def pending_items(
    session: AsyncSession, import_id: int, *, limit: int | None = None
) -> list[ImportItem]:
    """Tracks still to resolve, in playlist order."""
    return await list_items(session, import_id, states=[ItemState.PENDING], limit=limit)


async def resolved_items(
    session: AsyncSession, import_id: int, *, limit: int | None = None
) -> list[ImportItem]:
    """Tracks with a URI that are not in the target yet, in playlist order (next batches)."""
    return await list_items(session, import_id, states=[ItemState.RESOLVED], limit=limit)


async def next_to_add(session: AsyncSession, import_id: int, limit: int) -> list[tuple[int, str]]:
    """(position, URI) of the next tracks to append, in playlist order: only what an add
    needs (a batch is read per call; loading the catalog rows with it cost more than the
    call)."""
    rows = await session.execute(
        select(ImportItem.position, ImportItem.resolved_uri)
        .where(ImportItem.import_id == import_id, ImportItem.state == ItemState.RESOLVED)
        .order_by(ImportItem.position)
        .limit(limit)
    )
    return [(pos, str(uri)) for pos, uri in rows]


async def mark_items_added(
    session: AsyncSession,
    import_id: int,
    positions: Iterable[int],
    *,
    already_present: bool = False,
) -> int:
    """Record tracks as in the target playlist; returns how many changed.

    `already_present=True` is for reconciliation (found there, not added by us). Rows
    already added are left alone, so replaying a batch changes nothing.
    """
    return await _update_positions(
        session,
        import_id,
        positions,
        ImportItem.state != ItemState.ADDED,
        state=ItemState.ADDED,
        already_present=already_present,
        last_error=None,
    )


async def _update_positions(
    session: AsyncSession,
    import_id: int,
    positions: Iterable[int],
    only: ColumnElement[bool],
    **values: Any,
) -> int:
    """Update the rows at `positions` that match `only`, in chunks; returns how many."""
    changed = 0
    for batch in chunked(positions):
        result = await session.execute(
            update(ImportItem)
            .where(ImportItem.import_id == import_id, ImportItem.position.in_(batch), only)
            .values(**values, updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        changed += rowcount(result)
    return changed


async def mark_item_resolved(
    session: AsyncSession, import_id: int, position: int, uri: str
) -> bool:
    """The track has a Spotify URI now; counts as one attempt."""
    return await _settle_item(
        session, import_id, position, ItemState.RESOLVED, resolved_uri=uri, last_error=None
    )


async def mark_item_not_found(
    session: AsyncSession, import_id: int, position: int, *, reason: str | None = None
) -> bool:
    """No acceptable match exists; counts as one attempt."""
    return await _settle_item(
        session, import_id, position, ItemState.NOT_FOUND, resolved_uri=None, last_error=reason
    )


async def mark_item_failed(
    session: AsyncSession, import_id: int, position: int, error: str
) -> bool:
    """A permanent failure for this track; the import goes on without it."""
    return await mark_items_failed(session, import_id, [position], error) == 1


async def mark_items_failed(
    session: AsyncSession, import_id: int, positions: Iterable[int], error: str
) -> int:
    """A permanent failure for a batch (e.g. an add the API refused); keeps known URIs."""
    return await _update_positions(
        session,
        import_id,
        positions,
        ImportItem.state.in_(_OPEN_STATES),
        state=ItemState.FAILED,
        attempts=ImportItem.attempts + 1,
        last_error=error,
    )


async def mark_item_skipped(
    session: AsyncSession, import_id: int, position: int, reason: str
) -> bool:
    """Nothing to import at this position (e.g. the catalog track was replaced or unshared)."""
    return await _settle_item(session, import_id, position, ItemState.SKIPPED, last_error=reason)


async def record_item_error(
    session: AsyncSession, import_id: int, position: int, error: str
) -> bool:
    """Count a failed attempt that will be retried; the state stays as it is."""
    result = await session.execute(
        update(ImportItem)
        .where(
            ImportItem.import_id == import_id,
            ImportItem.position == position,
            ImportItem.state.in_(_OPEN_STATES),
        )
        .values(attempts=ImportItem.attempts + 1, last_error=error, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return rowcount(result) == 1


async def _settle_item(
    session: AsyncSession,
    import_id: int,
    position: int,
    state: ItemState,
    **values: str | None,
) -> bool:
    result = await session.execute(
        update(ImportItem)
        .where(
            ImportItem.import_id == import_id,
            ImportItem.position == position,
            ImportItem.state.in_(_OPEN_STATES),
        )
        .values(state=state, attempts=ImportItem.attempts + 1, updated_at=utcnow(), **values)
        .execution_options(synchronize_session=False)
    )
    return rowcount(result) == 1


async def counts_by_state(session: AsyncSession, import_id: int) -> ImportCounts:
    """Recount the ledger and store the result in the import's counters."""
    counts = await count_states(session, import_id)
    await session.execute(
        update(Import)
        .where(Import.id == import_id)
        .values(
            total=counts.total,
            added=counts.added,
            already_present=counts.already_present,
            not_found=counts.not_found,
            failed=counts.failed,
            updated_at=utcnow(),
        )
    )
    return counts


async def count_states(session: AsyncSession, import_id: int) -> ImportCounts:
    """Recount the ledger, writing nothing (a progress tick must not look like progress
    to the watchdog, nor queue behind other imports' writes)."""
    rows = await session.execute(
        select(ImportItem.state, ImportItem.already_present, func.count())
        .where(ImportItem.import_id == import_id)
        .group_by(ImportItem.state, ImportItem.already_present)
    )
    by_state = dict.fromkeys(ItemState, 0)
    already_present = 0
    for state, present, count in rows:
        if state is ItemState.ADDED and present:
            already_present += count
        else:
            by_state[state] += count
    return ImportCounts(
        total=sum(by_state.values()) + already_present,
        pending=by_state[ItemState.PENDING],
        resolved=by_state[ItemState.RESOLVED],
        added=by_state[ItemState.ADDED],
        already_present=already_present,
        not_found=by_state[ItemState.NOT_FOUND],
        failed=by_state[ItemState.FAILED],
        skipped=by_state[ItemState.SKIPPED],
    )


async def resolve_known_uris(session: AsyncSession, import_id: int) -> int:
    """Pending tracks whose catalog entry already names a Spotify URI become resolved.

    One statement for the whole import: a playlist shared from Spotify needs no search.
    """
    known_uri = (
        select(CatalogTrack.provider_uri)
        .where(CatalogTrack.id == ImportItem.catalog_track_id)
        .scalar_subquery()
    )
    result = await session.execute(
        update(ImportItem)
        .where(
            ImportItem.import_id == import_id,
            ImportItem.state == ItemState.PENDING,
            known_uri.is_not(None),
        )
        .values(state=ItemState.RESOLVED, resolved_uri=known_uri, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return rowcount(result)


async def target_sequence(session: AsyncSession, import_id: int) -> list[tuple[int, str, bool]]:
    """(position, uri, added) of every track meant for the target, in playlist order.

    The target playlist is built by appending these in order, so at any moment it holds a
    prefix of this sequence: reconciliation compares the two.
    """
    rows = await session.execute(
        select(ImportItem.position, ImportItem.resolved_uri, ImportItem.state)
        .where(
            ImportItem.import_id == import_id,
            ImportItem.state.in_([ItemState.RESOLVED, ItemState.ADDED]),
            ImportItem.resolved_uri.is_not(None),
        )
        .order_by(ImportItem.position)
    )
    return [(pos, str(uri), state is ItemState.ADDED) for pos, uri, state in rows]


async def unplayable_titles(session: AsyncSession, import_id: int, country: str) -> list[str]:
    """Titles of the import's tracks that do not play in `country`, in playlist order.

    Only tracks whose markets the catalog knows count; Spotify may still relink some.
    """
    rows = await session.execute(
        select(CatalogTrack.title, CatalogTrack.markets)
        .join(ImportItem, ImportItem.catalog_track_id == CatalogTrack.id)
        .where(ImportItem.import_id == import_id)
        .order_by(ImportItem.position)
    )
    return [title for title, markets in rows if markets is not None and country not in markets]
