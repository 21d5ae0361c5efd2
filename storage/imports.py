"""Imports: who imports which catalog entry where, and the run's status.

The per-track ledger lives in `storage.ledger`; its functions are re-exported here so
callers can take everything about an import from one module.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Integer,
    delete,
    insert,
    literal,
    select,
    tuple_,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from music.matching import match_key
from storage._sql import rowcount
from storage.catalog import get_guild_playlist
from storage.enums import ImportStatus, ItemState, PlaylistStatus
from storage.errors import (
    ActiveImportExists,
    ImportLedgerPruned,
    ImportNotFound,
    ImportNotRetryable,
    PlaylistNotFound,
    PlaylistNotReady,
)
from storage.ledger import (
    ImportCounts,
    counts_by_state,
    list_items,
    mark_item_failed,
    mark_item_not_found,
    mark_item_resolved,
    mark_item_skipped,
    mark_items_added,
    mark_items_failed,
    pending_items,
    record_item_error,
    resolved_items,
)
from storage.matches import forget_misses
from storage.models import CatalogTrack, Import, ImportItem
from storage.types import UTCDateTime, utcnow

_ACTIVE = (ImportStatus.QUEUED, ImportStatus.RUNNING, ImportStatus.PAUSED)
_TERMINAL = (ImportStatus.COMPLETED, ImportStatus.FAILED, ImportStatus.CANCELLED)

#: Which statuses may move to the key. QUEUED is entered only through a retry; a finished
#: import never runs again by accident (e.g. a late task retry after a cancel).
_ALLOWED_FROM: dict[ImportStatus, tuple[ImportStatus, ...]] = {
    ImportStatus.QUEUED: (ImportStatus.QUEUED,),
    ImportStatus.RUNNING: _ACTIVE,
    ImportStatus.PAUSED: _ACTIVE,
    ImportStatus.COMPLETED: (*_ACTIVE, ImportStatus.COMPLETED),
    ImportStatus.FAILED: (*_ACTIVE, ImportStatus.FAILED),
    ImportStatus.CANCELLED: (*_ACTIVE, ImportStatus.CANCELLED),
}


@dataclass(frozen=True, slots=True)
class TargetPlaylist:
    """The member's playlist that an import writes into."""

    playlist_id: str
    url: str | None


async def create_import_with_ledger(
    session: AsyncSession,
    *,
    guild_id: int,
    discord_user_id: int,
    catalog_playlist_id: int,
    channel_id: int,
    follow: bool = False,
    follow_update: bool = False,
    follow_remove: bool = False,
) -> Import:
    """A queued import of a guild's ready catalog entry, with one pending row per track.

    `follow`: the member wants the copy to follow the entry; `follow_update`: the import
    serves a change of a followed entry (it posts no progress message of its own);
    `follow_remove`: songs that leave the entry leave the copy (only those Mixtape added).

    Raises PlaylistNotFound for ids outside this guild, PlaylistNotReady before the
    entry's tracks have been read, and ActiveImportExists when the member already has an
    active import of it (the database's partial unique index decides, so a race cannot
    make two).
    """
    playlist = await get_guild_playlist(session, guild_id, catalog_playlist_id)
    if playlist is None:
        raise PlaylistNotFound(catalog_playlist_id)
    if playlist.status is not PlaylistStatus.READY:
        raise PlaylistNotReady(catalog_playlist_id)
    now = utcnow()
    imp = Import(
        guild_id=guild_id,
        discord_user_id=discord_user_id,
        catalog_playlist_id=catalog_playlist_id,
        playlist_name=playlist.name,
        channel_id=channel_id,
        status=ImportStatus.QUEUED,
        follow=follow,
        follow_update=follow_update,
        follow_remove=follow and follow_remove,
        created_at=now,
        updated_at=now,
    )
    try:
        async with session.begin_nested():  # a savepoint: the violation leaves the rest intact
            session.add(imp)
            await session.flush()
    except IntegrityError as exc:  # only the one-active-import index can refuse this row
        if await find_active_import(session, discord_user_id, catalog_playlist_id) is not None:
            raise ActiveImportExists(catalog_playlist_id) from exc
        raise
    ledger_rows = (
        select(
            literal(imp.id, BigInteger()),
            CatalogTrack.position,
            CatalogTrack.id,
            literal(ItemState.PENDING.value),
            literal(False, Boolean()),
            literal(0, Integer()),
            literal(now, UTCDateTime()),
        )
        .where(CatalogTrack.playlist_id == catalog_playlist_id)
        .order_by(CatalogTrack.position)
    )
    await session.execute(
        insert(ImportItem).from_select(
            [
                "import_id",
                "position",
                "catalog_track_id",
                "state",
                "already_present",
                "attempts",
                "updated_at",
            ],
            ledger_rows,
        )
    )
    await counts_by_state(session, imp.id)
    return imp


async def get_import(session: AsyncSession, import_id: int) -> Import | None:
    """An import by id, freshly read (workflows poll it for cancellation)."""
    return await session.get(Import, import_id, populate_existing=True)


async def get_user_import(
    session: AsyncSession, discord_user_id: int, import_id: int
) -> Import | None:
    """The import if it is this member's; None for unknown ids and other members' ids."""
    stmt = select(Import).where(Import.id == import_id, Import.discord_user_id == discord_user_id)
    return (await session.scalars(stmt.execution_options(populate_existing=True))).one_or_none()


async def list_user_imports(
    session: AsyncSession,
    discord_user_id: int,
    *,
    guild_id: int | None = None,
    statuses: Collection[ImportStatus] | None = None,
    limit: int = 10,
    offset: int = 0,
) -> list[Import]:
    """A member's imports, newest first (/imports, and autocomplete for /cancel, /retry)."""
    stmt = select(Import).where(Import.discord_user_id == discord_user_id)
    if guild_id is not None:
        stmt = stmt.where(Import.guild_id == guild_id)
    if statuses is not None:
        stmt = stmt.where(Import.status.in_(list(statuses)))
    stmt = stmt.order_by(Import.created_at.desc(), Import.id.desc()).limit(limit).offset(offset)
    return list((await session.scalars(stmt)).all())


async def find_active_import(
    session: AsyncSession, discord_user_id: int, catalog_playlist_id: int
) -> Import | None:
    """The member's unfinished import of this entry, to refuse starting a duplicate."""
    stmt = (
        select(Import)
        .where(
            Import.discord_user_id == discord_user_id,
            Import.catalog_playlist_id == catalog_playlist_id,
            Import.status.in_(_ACTIVE),
        )
        .order_by(Import.id.desc())
        .limit(1)
    )
    return (await session.scalars(stmt)).first()


async def set_target_playlist(
    session: AsyncSession, import_id: int, playlist_id: str, url: str | None
) -> TargetPlaylist:
    """Record the target playlist once; returns whichever one is stored.

    The first caller wins: a retried prepare step that created a second playlist learns
    the recorded one instead of overwriting it.
    """
    await session.execute(
        update(Import)
        .where(Import.id == import_id, Import.target_playlist_id.is_(None))
        .values(target_playlist_id=playlist_id, target_playlist_url=url, updated_at=utcnow())
    )
    stored = (
        await session.execute(
            select(Import.target_playlist_id, Import.target_playlist_url).where(
                Import.id == import_id
            )
        )
    ).one_or_none()
    if stored is None or stored.target_playlist_id is None:
        raise ImportNotFound(import_id)
    return TargetPlaylist(playlist_id=stored.target_playlist_id, url=stored.target_playlist_url)


async def set_target_length(session: AsyncSession, import_id: int, length: int) -> None:
    """The target's length as just read (reconcile)."""
    await session.execute(update(Import).where(Import.id == import_id).values(target_length=length))


async def extend_target_length(session: AsyncSession, import_id: int, added: int) -> None:
    """Our batch landed: the target grew by `added` (commit with the ledger's marks)."""
    await session.execute(
        update(Import)
        .where(Import.id == import_id, Import.target_length.is_not(None))
        .values(target_length=Import.target_length + added)
    )


async def forget_lost_target(session: AsyncSession, import_id: int, playlist_id: str) -> int:
    """The member deleted (unfollowed) the target: forget it and what it held.

    Tracks added to the lost playlist no longer count: they go back to resolved, so the
    next target gets them again. Returns how many went back. Only `playlist_id` is
    forgotten: a newer target recorded meanwhile stays.
    """
    forgot = await session.execute(
        update(Import)
        .where(Import.id == import_id, Import.target_playlist_id == playlist_id)
        .values(
            target_playlist_id=None,
            target_playlist_url=None,
            target_length=None,
            updated_at=utcnow(),
        )
    )
    if rowcount(forgot) != 1:
        return 0
    reset = await session.execute(
        update(ImportItem)
        .where(ImportItem.import_id == import_id, ImportItem.state == ItemState.ADDED)
        .values(state=ItemState.RESOLVED, already_present=False, updated_at=utcnow())
    )
    await counts_by_state(session, import_id)
    return rowcount(reset)


async def set_message_id(session: AsyncSession, import_id: int, message_id: int) -> bool:
    """Remember the progress message so any worker can edit it."""
    stmt = (
        update(Import)
        .where(Import.id == import_id)
        .values(message_id=message_id, updated_at=utcnow())
    )
    return rowcount(await session.execute(stmt)) == 1


async def set_workflow_run_id(session: AsyncSession, import_id: int, run_id: str) -> bool:
    """Link the import to its Hatchet run (dashboard, cancellation)."""
    stmt = (
        update(Import)
        .where(Import.id == import_id)
        .values(workflow_run_id=run_id, updated_at=utcnow())
    )
    return rowcount(await session.execute(stmt)) == 1


async def set_import_status(
    session: AsyncSession,
    import_id: int,
    status: ImportStatus,
    *,
    error: str | None = None,
    resume_at: datetime | None = None,
    now: datetime | None = None,
) -> bool:
    """Move the import to `status` if the current status allows it; False otherwise.

    The check and the write are one statement, so a cancel racing a completion has exactly
    one winner. Finished statuses stamp `finished_at`; PAUSED needs `resume_at`.
    """
    if status is ImportStatus.PAUSED and resume_at is None:
        raise ValueError("a paused import needs resume_at")
    now = now or utcnow()
    terminal = status in _TERMINAL
    stmt = (
        update(Import)
        .where(Import.id == import_id, Import.status.in_(_ALLOWED_FROM[status]))
        .values(
            status=status,
            error=error,
            resume_at=resume_at if status is ImportStatus.PAUSED else None,
            finished_at=now if terminal else None,
            updated_at=now,
        )
    )
    return rowcount(await session.execute(stmt)) == 1


async def start_import(session: AsyncSession, import_id: int) -> bool:
    """Queued or paused -> running; False once cancelled or finished (stop working)."""
    return await set_import_status(session, import_id, ImportStatus.RUNNING)


async def pause_import(session: AsyncSession, import_id: int, resume_at: datetime) -> bool:
    """Running -> paused until `resume_at` (a long Retry-After being slept out durably)."""
    return await set_import_status(session, import_id, ImportStatus.PAUSED, resume_at=resume_at)


async def finish_import(
    session: AsyncSession, import_id: int, status: ImportStatus, *, error: str | None = None
) -> bool:
    """Stamp a terminal status (completed, failed or cancelled)."""
    if status not in _TERMINAL:
        raise ValueError(f"{status} is not a terminal status")
    return await set_import_status(session, import_id, status, error=error)


async def cancel_import(session: AsyncSession, import_id: int) -> bool:
    """Ask an unfinished import to stop; the workflow sees it at its next step boundary."""
    return await set_import_status(session, import_id, ImportStatus.CANCELLED)


async def reset_unadded_for_retry(session: AsyncSession, import_id: int) -> int:
    """Requeue a finished import so only what is not added runs again; returns how many.

    Failed tracks with a known URI go back to resolved (no new search), the rest of the
    failed and not-found tracks to pending, and the match cache forgets its misses for the
    not-found ones, so they are searched again. Added and skipped tracks stay as they are.
    Raises ImportLedgerPruned when the retention period removed the ledger.
    """
    now = utcnow()
    try:
        async with session.begin_nested():
            requeued = await session.execute(
                update(Import)
                .where(
                    Import.id == import_id,
                    Import.status.in_(_TERMINAL),
                    Import.ledger_pruned_at.is_(None),
                )
                .values(
                    status=ImportStatus.QUEUED,
                    error=None,
                    resume_at=None,
                    finished_at=None,
                    updated_at=now,
                    workflow_run_id=None,
                )
            )
    except IntegrityError as exc:  # another import of the same playlist is active
        raise ActiveImportExists(import_id) from exc
    if rowcount(requeued) != 1:
        imp = await session.get(Import, import_id, populate_existing=True)
        if imp is None:
            raise ImportNotFound(import_id)
        if imp.ledger_pruned_at is not None:
            raise ImportLedgerPruned(import_id)
        raise ImportNotRetryable(import_id)
    # What was not found is searched again: its cached misses are forgotten first.
    not_found = await session.scalars(
        select(CatalogTrack)
        .join(ImportItem, ImportItem.catalog_track_id == CatalogTrack.id)
        .where(ImportItem.import_id == import_id, ImportItem.state == ItemState.NOT_FOUND)
    )
    await forget_misses(
        session, [match_key(t.title, tuple(t.artists), t.duration_ms, t.isrc) for t in not_found]
    )
    reset = 0
    for state, has_uri, new_state in (
        (ItemState.FAILED, True, ItemState.RESOLVED),
        (ItemState.FAILED, False, ItemState.PENDING),
        (ItemState.NOT_FOUND, False, ItemState.PENDING),
    ):
        uri_clause = (
            ImportItem.resolved_uri.is_not(None) if has_uri else ImportItem.resolved_uri.is_(None)
        )
        result = await session.execute(
            update(ImportItem)
            .where(ImportItem.import_id == import_id, ImportItem.state == state, uri_clause)
            .values(state=new_state, attempts=0, last_error=None, updated_at=now)
        )
        reset += rowcount(result)
    await counts_by_state(session, import_id)
    return reset


__all__ = [
    "ImportCounts",
    "TargetPlaylist",
    "cancel_import",
    "list_stalled_imports",
    "prune_finished_ledgers",
    "replace_workflow_run_id",
    "counts_by_state",
    "create_import_with_ledger",
    "find_active_import",
    "finish_import",
    "get_import",
    "get_user_import",
    "list_items",
    "list_user_imports",
    "mark_item_failed",
    "mark_item_not_found",
    "mark_item_resolved",
    "mark_item_skipped",
    "mark_items_added",
    "mark_items_failed",
    "pause_import",
    "pending_items",
    "record_item_error",
    "reset_unadded_for_retry",
    "resolved_items",
    "set_import_status",
    "set_message_id",
    "set_target_playlist",
    "set_target_length",
    "extend_target_length",
    "forget_lost_target",
    "set_workflow_run_id",
    "start_import",
    "touch_import",
]


async def list_stalled_imports(session: AsyncSession, *, quiet_since: datetime) -> list[Import]:
    """Imports quiet since `quiet_since` whose run is stuck or was never started.

    Running ones whose ledger and run have not moved (the parent touches the row after
    every step), and queued ones saved but never dispatched (no run id: the bot stopped
    between the two). A queued import that has a run is waiting for a worker: not stuck.
    """
    stuck = Import.status == ImportStatus.RUNNING
    never_started = (Import.status == ImportStatus.QUEUED) & Import.workflow_run_id.is_(None)
    stmt = (
        select(Import)
        .where(stuck | never_started, Import.updated_at < quiet_since)
        .order_by(Import.id)
    )
    return list((await session.scalars(stmt)).all())


async def touch_import(session: AsyncSession, import_id: int) -> None:
    """The run is alive: a step finished, though the ledger may not have moved."""
    await session.execute(
        update(Import)
        .where(Import.id == import_id, Import.status == ImportStatus.RUNNING)
        .values(updated_at=utcnow())
    )


async def replace_workflow_run_id(
    session: AsyncSession, import_id: int, old_run_id: str | None, new_run_id: str
) -> bool:
    """Hand the import to a new run only if `old_run_id` still owns it (one winner)."""
    owner = (
        Import.workflow_run_id.is_(None)
        if old_run_id is None
        else Import.workflow_run_id == old_run_id
    )
    stmt = (
        update(Import)
        .where(Import.id == import_id, owner)
        .values(workflow_run_id=new_run_id, updated_at=utcnow())
    )
    return rowcount(await session.execute(stmt)) == 1


async def prune_finished_ledgers(
    session: AsyncSession, *, finished_before: datetime, limit: int
) -> int:
    """Delete at most `limit` ledger rows of imports finished before `finished_before`.

    The imports stay, with their counters, stamped `ledger_pruned_at` first so that no
    /retry starts from a half-removed ledger (`reset_unadded_for_retry` refuses them).
    Returns how many rows went; call again until it returns less than `limit`.
    """
    await session.execute(
        update(Import)
        .where(
            Import.status.in_(_TERMINAL),
            Import.finished_at < finished_before,
            Import.ledger_pruned_at.is_(None),
        )
        .values(ledger_pruned_at=utcnow())
    )
    chunk = (
        select(ImportItem.import_id, ImportItem.position)
        .join(Import, Import.id == ImportItem.import_id)
        .where(Import.ledger_pruned_at.is_not(None))
        .limit(limit)
    )
    key = tuple_(ImportItem.import_id, ImportItem.position)
    return rowcount(await session.execute(delete(ImportItem).where(key.in_(chunk))))


async def import_statuses(
    session: AsyncSession, import_ids: Collection[int]
) -> dict[int, ImportStatus]:
    """The status of each of these imports (an id no longer stored is left out)."""
    wanted = sorted(set(import_ids))
    found: dict[int, ImportStatus] = {}
    for start in range(0, len(wanted), _STATUS_CHUNK):
        chunk = wanted[start : start + _STATUS_CHUNK]
        rows = await session.execute(select(Import.id, Import.status).where(Import.id.in_(chunk)))
        found.update({import_id: status for import_id, status in rows})
    return found


_STATUS_CHUNK = 500  # ids per query: well under every database's bound on parameters
