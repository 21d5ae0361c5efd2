"""Imports and the ledger: creation order, per-track outcomes, counters, retry, statuses."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from music.matching import match_key
from storage import ledger
from storage.catalog import (
    TrackData,
    delete_catalog_playlist,
    mark_catalog_status,
    replace_catalog_tracks,
    upsert_catalog_playlist,
)
from storage.enums import ImportStatus, ItemState, PlaylistStatus
from storage.errors import (
    ActiveImportExists,
    ImportLedgerPruned,
    ImportNotFound,
    ImportNotRetryable,
    PlaylistNotFound,
    PlaylistNotReady,
)
from storage.imports import (
    ImportCounts,
    TargetPlaylist,
    cancel_import,
    counts_by_state,
    create_import_with_ledger,
    find_active_import,
    finish_import,
    get_import,
    get_user_import,
    list_items,
    list_user_imports,
    mark_item_failed,
    mark_item_not_found,
    mark_item_resolved,
    mark_item_skipped,
    mark_items_added,
    mark_items_failed,
    pause_import,
    pending_items,
    prune_finished_ledgers,
    record_item_error,
    reset_unadded_for_retry,
    resolved_items,
    set_import_status,
    set_message_id,
    set_target_playlist,
    set_workflow_run_id,
    start_import,
)
from storage.matches import get_match, save_match
from storage.models import Import, ImportItem

GUILD, OTHER_GUILD = 300_000_000_000_000_001, 300_000_000_000_000_002
USER, OTHER_USER = 400_000_000_000_000_001, 400_000_000_000_000_002
CHANNEL = 500_000_000_000_000_001

Sessions = async_sessionmaker[AsyncSession]


async def _ready_playlist(sessions: Sessions, n_tracks: int = 5, guild: int = GUILD) -> int:
    tracks = [TrackData(f"Song {i}", (f"Artist {i}",), 1_000 * (i + 1)) for i in range(n_tracks)]
    async with sessions.begin() as session:
        playlist_id = await upsert_catalog_playlist(
            session,
            guild_id=guild,
            owner_discord_user_id=USER,
            provider_playlist_id=f"pl-{n_tracks}-{guild}",
            url="https://open.spotify.com/playlist/x",
            name="Mixtape Vol. 1",
        )
        await replace_catalog_tracks(session, playlist_id, tracks)
        await mark_catalog_status(session, playlist_id, PlaylistStatus.READY)
    return playlist_id


async def _new_import(sessions: Sessions, playlist_id: int, user: int = USER) -> Import:
    async with sessions.begin() as session:
        return await create_import_with_ledger(
            session,
            guild_id=GUILD,
            discord_user_id=user,
            catalog_playlist_id=playlist_id,
            channel_id=CHANNEL,
        )


async def _states(sessions: Sessions, import_id: int) -> list[ItemState]:
    async with sessions.begin() as session:
        return [item.state for item in await list_items(session, import_id)]


async def test_create_import_builds_the_ledger_in_position_order(sessions: Sessions) -> None:
    playlist_id = await _ready_playlist(sessions, 5)

    imp = await _new_import(sessions, playlist_id)

    async with sessions.begin() as session:
        items = await list_items(session, imp.id)
        stored = await get_import(session, imp.id)
    assert stored is not None
    assert stored.status is ImportStatus.QUEUED
    assert (stored.total, stored.added, stored.failed) == (5, 0, 0)
    assert stored.playlist_name == "Mixtape Vol. 1"
    assert (stored.guild_id, stored.discord_user_id, stored.channel_id) == (GUILD, USER, CHANNEL)
    assert [item.position for item in items] == [0, 1, 2, 3, 4]
    assert [item.track.title for item in items if item.track] == [f"Song {i}" for i in range(5)]
    assert all(item.state is ItemState.PENDING and item.attempts == 0 for item in items)


async def test_create_import_checks_guild_and_readiness(sessions: Sessions) -> None:
    other = await _ready_playlist(sessions, 2, guild=OTHER_GUILD)
    async with sessions.begin() as session:
        not_ready = await upsert_catalog_playlist(
            session,
            guild_id=GUILD,
            owner_discord_user_id=USER,
            provider_playlist_id="pending",
            url="u",
        )

    with pytest.raises(PlaylistNotFound):
        await _new_import(sessions, other)
    with pytest.raises(PlaylistNotReady):
        await _new_import(sessions, not_ready)
    async with sessions.begin() as session:
        assert (await session.scalars(select(Import))).all() == []


async def test_per_track_outcomes_and_counts_from_the_ledger(sessions: Sessions) -> None:
    imp = await _new_import(sessions, await _ready_playlist(sessions, 6))

    async with sessions.begin() as session:
        assert await mark_items_added(session, imp.id, [0], already_present=True) == 1
        assert await mark_item_resolved(session, imp.id, 1, "spotify:track:1")
        assert await mark_item_resolved(session, imp.id, 2, "spotify:track:2")
        assert await mark_item_not_found(session, imp.id, 3, reason="no match")
        assert await record_item_error(session, imp.id, 4, "timeout")
        assert await mark_item_failed(session, imp.id, 4, "HTTP 400")
        assert await mark_items_added(session, imp.id, [1, 2]) == 2
        assert await mark_items_added(session, imp.id, [1, 2]) == 0  # replayed batch
        assert not await mark_item_resolved(session, imp.id, 1, "spotify:track:other")
        counts = await counts_by_state(session, imp.id)

    assert counts == ImportCounts(
        total=6,
        pending=1,
        resolved=0,
        added=2,
        already_present=1,
        not_found=1,
        failed=1,
        skipped=0,
    )
    assert counts.outstanding == 1
    async with sessions.begin() as session:
        stored = await get_import(session, imp.id)
        items = {item.position: item for item in await list_items(session, imp.id)}
    assert stored is not None
    assert (stored.total, stored.added, stored.already_present) == (6, 2, 1)
    assert (stored.not_found, stored.failed) == (1, 1)
    assert items[1].resolved_uri == "spotify:track:1"  # never overwritten once added
    assert items[0].already_present and not items[1].already_present
    assert (items[3].attempts, items[3].last_error) == (1, "no match")
    assert (items[4].attempts, items[4].last_error) == (2, "HTTP 400")
    assert items[5].state is ItemState.PENDING


async def test_counts_follow_the_ledger_not_the_stored_counters(sessions: Sessions) -> None:
    imp = await _new_import(sessions, await _ready_playlist(sessions, 3))
    async with sessions.begin() as session:
        stored = await get_import(session, imp.id)
        assert stored is not None
        stored.added = 99  # a stale cache
        await mark_items_added(session, imp.id, [0, 1, 2])

    async with sessions.begin() as session:
        counts = await counts_by_state(session, imp.id)
        stored = await get_import(session, imp.id)

    assert counts.added == 3
    assert stored is not None and stored.added == 3


async def test_pending_and_resolved_items_in_order(sessions: Sessions) -> None:
    imp = await _new_import(sessions, await _ready_playlist(sessions, 5))
    async with sessions.begin() as session:
        await mark_item_resolved(session, imp.id, 3, "spotify:track:3")
        await mark_item_resolved(session, imp.id, 1, "spotify:track:1")
        await mark_item_skipped(session, imp.id, 4, "track removed from the catalog")

    async with sessions.begin() as session:
        pending = await pending_items(session, imp.id)
        resolved = await resolved_items(session, imp.id)
        first_pending = await pending_items(session, imp.id, limit=1)
        after = await list_items(session, imp.id, after_position=2)
        to_add = await ledger.next_to_add(session, imp.id, 10)
        first_to_add = await ledger.next_to_add(session, imp.id, 1)

    assert [item.position for item in pending] == [0, 2]
    assert [(item.position, item.resolved_uri) for item in resolved] == [
        (1, "spotify:track:1"),
        (3, "spotify:track:3"),
    ]
    assert to_add == [(1, "spotify:track:1"), (3, "spotify:track:3")]
    assert first_to_add == [(1, "spotify:track:1")]
    assert [item.position for item in first_pending] == [0]
    assert [item.position for item in after] == [3, 4]
    assert after[1].state is ItemState.SKIPPED


async def test_large_batches_are_marked_in_chunks(sessions: Sessions) -> None:
    imp = await _new_import(sessions, await _ready_playlist(sessions, 1_234))

    async with sessions.begin() as session:
        assert await mark_items_added(session, imp.id, range(1_234)) == 1_234
        assert await mark_items_failed(session, imp.id, range(1_234), "late") == 0
        counts = await counts_by_state(session, imp.id)

    assert (counts.total, counts.added) == (1_234, 1_234)


async def test_target_playlist_is_set_once(sessions: Sessions) -> None:
    imp = await _new_import(sessions, await _ready_playlist(sessions, 1))

    async with sessions.begin() as session:
        first = await set_target_playlist(session, imp.id, "target-1", "https://sp/1")
    async with sessions.begin() as session:
        second = await set_target_playlist(session, imp.id, "target-2", "https://sp/2")
        stored = await get_import(session, imp.id)

    assert first == second == TargetPlaylist("target-1", "https://sp/1")
    assert stored is not None and stored.target_playlist_id == "target-1"
    with pytest.raises(ImportNotFound):
        async with sessions.begin() as session:
            await set_target_playlist(session, 999_999, "x", None)


async def test_concurrent_target_playlist_writers_agree(sessions: Sessions) -> None:
    imp = await _new_import(sessions, await _ready_playlist(sessions, 1))

    async def claim(name: str) -> TargetPlaylist:
        async with sessions.begin() as session:
            return await set_target_playlist(session, imp.id, name, None)

    results = await asyncio.gather(*(claim(f"target-{i}") for i in range(4)))

    assert len(set(results)) == 1


async def test_message_and_run_ids(sessions: Sessions) -> None:
    imp = await _new_import(sessions, await _ready_playlist(sessions, 1))

    async with sessions.begin() as session:
        assert await set_message_id(session, imp.id, 600_000_000_000_000_001)
        assert await set_workflow_run_id(session, imp.id, "run-abc")
        assert not await set_message_id(session, 999_999, 1)

    async with sessions.begin() as session:
        stored = await get_import(session, imp.id)
    assert stored is not None
    assert (stored.message_id, stored.workflow_run_id) == (600_000_000_000_000_001, "run-abc")


async def test_status_transitions(sessions: Sessions) -> None:
    imp = await _new_import(sessions, await _ready_playlist(sessions, 1))
    resume_at = datetime(2030, 1, 1, tzinfo=UTC) + timedelta(minutes=5)

    async with sessions.begin() as session:
        assert await start_import(session, imp.id)
        assert await pause_import(session, imp.id, resume_at)
    async with sessions.begin() as session:
        paused = await get_import(session, imp.id)
        assert paused is not None
        assert (paused.status, paused.resume_at) == (ImportStatus.PAUSED, resume_at)
        assert await start_import(session, imp.id)
        assert await finish_import(session, imp.id, ImportStatus.COMPLETED)
        assert not await cancel_import(session, imp.id)  # too late: already finished
        assert not await start_import(session, imp.id)  # a late task retry must not revive it
        with pytest.raises(ValueError, match="resume_at"):
            await set_import_status(session, imp.id, ImportStatus.PAUSED)
        with pytest.raises(ValueError, match="terminal"):
            await finish_import(session, imp.id, ImportStatus.RUNNING)
    async with sessions.begin() as session:
        done = await get_import(session, imp.id)

    assert done is not None
    assert done.status is ImportStatus.COMPLETED
    assert done.resume_at is None
    assert done.finished_at is not None and done.finished_at.tzinfo is UTC


async def test_cancel_racing_completion_has_one_winner(sessions: Sessions) -> None:
    imp = await _new_import(sessions, await _ready_playlist(sessions, 1))
    async with sessions.begin() as session:
        await start_import(session, imp.id)

    async def cancel() -> bool:
        async with sessions.begin() as session:
            return await cancel_import(session, imp.id)

    async def complete() -> bool:
        async with sessions.begin() as session:
            return await finish_import(session, imp.id, ImportStatus.FAILED, error="boom")

    results = await asyncio.gather(cancel(), complete())

    async with sessions.begin() as session:
        stored = await get_import(session, imp.id)
    assert sorted(results) == [False, True]
    assert stored is not None
    assert stored.status is (ImportStatus.CANCELLED if results[0] else ImportStatus.FAILED)


async def test_reset_unadded_for_retry(sessions: Sessions) -> None:
    imp = await _new_import(sessions, await _ready_playlist(sessions, 6))
    async with sessions.begin() as session:
        await mark_items_added(session, imp.id, [0])
        await mark_item_resolved(session, imp.id, 1, "spotify:track:1")
        await mark_item_failed(session, imp.id, 1, "add refused")  # failed with a known URI
        await mark_item_failed(session, imp.id, 2, "search kept failing")
        await mark_item_not_found(session, imp.id, 3)
        await mark_item_skipped(session, imp.id, 4, "gone")
        await start_import(session, imp.id)

    with pytest.raises(ImportNotRetryable):
        async with sessions.begin() as session:
            await reset_unadded_for_retry(session, imp.id)

    async with sessions.begin() as session:
        await finish_import(session, imp.id, ImportStatus.FAILED, error="too many failures")
    async with sessions.begin() as session:
        assert await reset_unadded_for_retry(session, imp.id) == 3
    async with sessions.begin() as session:
        items = await list_items(session, imp.id)
        stored = await get_import(session, imp.id)

    assert [item.state for item in items] == [
        ItemState.ADDED,
        ItemState.RESOLVED,
        ItemState.PENDING,
        ItemState.PENDING,
        ItemState.SKIPPED,
        ItemState.PENDING,
    ]
    assert items[1].resolved_uri == "spotify:track:1"  # no second search needed
    assert all(item.attempts == 0 and item.last_error is None for item in items[1:4])
    assert stored is not None
    assert stored.status is ImportStatus.QUEUED
    assert (stored.error, stored.finished_at) == (None, None)
    assert (stored.added, stored.failed, stored.not_found) == (1, 0, 0)
    with pytest.raises(ImportNotFound):
        async with sessions.begin() as session:
            await reset_unadded_for_retry(session, 999_999)


async def test_user_scoped_lookups(sessions: Sessions) -> None:
    playlist_id = await _ready_playlist(sessions, 1)
    first = await _new_import(sessions, playlist_id)
    async with sessions.begin() as session:
        await finish_import(session, first.id, ImportStatus.COMPLETED)
    second = await _new_import(sessions, playlist_id)
    theirs = await _new_import(sessions, playlist_id, user=OTHER_USER)

    async with sessions.begin() as session:
        mine = await list_user_imports(session, USER)
        active = await list_user_imports(session, USER, statuses=[ImportStatus.QUEUED])
        other_guild = await list_user_imports(session, USER, guild_id=OTHER_GUILD)
        paged = await list_user_imports(session, USER, limit=1, offset=1)
        assert await get_user_import(session, USER, theirs.id) is None
        assert await get_user_import(session, OTHER_USER, theirs.id) is not None
        running = await find_active_import(session, USER, playlist_id)

    assert [imp.id for imp in mine] == [second.id, first.id]
    assert [imp.id for imp in active] == [second.id]
    assert other_guild == []
    assert [imp.id for imp in paged] == [first.id]
    assert running is not None and running.id == second.id


async def test_unshare_keeps_the_import_and_its_ledger(sessions: Sessions) -> None:
    playlist_id = await _ready_playlist(sessions, 3)
    imp = await _new_import(sessions, playlist_id)
    async with sessions.begin() as session:
        await mark_items_added(session, imp.id, [0])

    async with sessions.begin() as session:
        assert await delete_catalog_playlist(session, GUILD, playlist_id)

    async with sessions.begin() as session:
        stored = await get_import(session, imp.id)
        items = await list_items(session, imp.id)
    assert stored is not None
    assert stored.catalog_playlist_id is None
    assert stored.playlist_name == "Mixtape Vol. 1"
    assert [(item.state, item.track) for item in items] == [
        (ItemState.ADDED, None),
        (ItemState.PENDING, None),
        (ItemState.PENDING, None),
    ]


async def test_deleting_an_import_cascades_its_ledger(sessions: Sessions) -> None:
    imp = await _new_import(sessions, await _ready_playlist(sessions, 3))

    async with sessions.begin() as session:
        stored = await session.get(Import, imp.id)
        await session.delete(stored)

    async with sessions.begin() as session:
        assert (await session.scalars(select(ImportItem))).all() == []


async def test_two_imports_at_the_same_instant_make_one_and_a_clear_refusal(
    sessions: Sessions,
) -> None:
    """The database decides, not a check before the insert: 20 races, one import each."""
    playlist_id = await _ready_playlist(sessions)

    async def click(user: int) -> Import | ActiveImportExists:
        try:
            return await _new_import(sessions, playlist_id, user=user)
        except ActiveImportExists as exc:
            return exc

    for round_ in range(20):
        user = 600_000_000_000_000_000 + round_
        results = await asyncio.gather(click(user), click(user))
        made = [r for r in results if isinstance(r, Import)]
        refused = [r for r in results if isinstance(r, ActiveImportExists)]
        assert (len(made), len(refused)) == (1, 1), results
        async with sessions.begin() as session:
            rows = (
                await session.scalars(select(Import).where(Import.discord_user_id == user))
            ).all()
            assert [r.id for r in rows] == [made[0].id]
            assert (await counts_by_state(session, made[0].id)).total == 5


async def test_a_finished_import_is_not_retried_beside_a_newer_active_one(
    sessions: Sessions,
) -> None:
    playlist_id = await _ready_playlist(sessions)
    first = await _new_import(sessions, playlist_id)
    async with sessions.begin() as session:
        await finish_import(session, first.id, ImportStatus.FAILED, error="boom")
    second = await _new_import(sessions, playlist_id)

    with pytest.raises(ActiveImportExists):
        async with sessions.begin() as session:
            await reset_unadded_for_retry(session, first.id)

    async with sessions.begin() as session:
        assert (await get_import(session, first.id)).status is ImportStatus.FAILED
        assert (await get_import(session, second.id)).status is ImportStatus.QUEUED
    async with sessions.begin() as session:
        await cancel_import(session, second.id)
    async with sessions.begin() as session:
        assert await reset_unadded_for_retry(session, first.id) >= 0
        assert (await get_import(session, first.id)).status is ImportStatus.QUEUED


async def test_a_retry_searches_not_found_tracks_again(sessions: Sessions) -> None:
    """The match cache's misses for what was not found are forgotten; hits are kept."""
    playlist_id = await _ready_playlist(sessions, 3)
    imp = await _new_import(sessions, playlist_id)
    keys = [match_key(f"Song {i}", (f"Artist {i}",), 1_000 * (i + 1), None) for i in range(3)]
    async with sessions.begin() as session:
        await save_match(session, keys[0], None, 0.0)  # not found
        await save_match(session, keys[1], "spotify:track:" + "b" * 22, 1.0)
        await mark_item_not_found(session, imp.id, 0, reason="no confident match")
        await mark_item_resolved(session, imp.id, 1, "spotify:track:" + "b" * 22)
        await mark_items_added(session, imp.id, [1])
        await mark_item_not_found(session, imp.id, 2, reason="no confident match")
        await finish_import(session, imp.id, ImportStatus.COMPLETED)

    async with sessions.begin() as session:
        assert await reset_unadded_for_retry(session, imp.id) == 2

    async with sessions.begin() as session:
        assert await get_match(session, keys[0]) is None  # searched again on the retry
        hit = await get_match(session, keys[1])
        assert hit is not None and hit.spotify_uri == "spotify:track:" + "b" * 22
        states = [item.state for item in await list_items(session, imp.id)]
        assert states == [ItemState.PENDING, ItemState.ADDED, ItemState.PENDING]


async def _finish_days_ago(
    sessions: Sessions, import_id: int, days: int, status: ImportStatus = ImportStatus.COMPLETED
) -> None:
    async with sessions.begin() as session:
        await finish_import(
            session, import_id, status, error="stopped" if status is ImportStatus.FAILED else None
        )
        await session.execute(
            update(Import)
            .where(Import.id == import_id)
            .values(finished_at=datetime.now(UTC) - timedelta(days=days))
        )


async def test_ledgers_of_imports_finished_long_ago_are_pruned_in_chunks(
    sessions: Sessions,
) -> None:
    playlist_id = await _ready_playlist(sessions, 5)
    old = await _new_import(sessions, playlist_id)
    async with sessions.begin() as session:
        await mark_item_resolved(session, old.id, 0, "spotify:track:" + "a" * 22)
        await mark_items_added(session, old.id, [0])
        await mark_item_failed(session, old.id, 1, "refused")
        await counts_by_state(session, old.id)
    await _finish_days_ago(sessions, old.id, 100, ImportStatus.FAILED)
    recent = await _new_import(sessions, playlist_id, user=OTHER_USER)
    await _finish_days_ago(sessions, recent.id, 10)
    active = await _new_import(sessions, await _ready_playlist(sessions, 2))
    cutoff = datetime.now(UTC) - timedelta(days=90)

    chunks = []
    for _ in range(5):
        async with sessions.begin() as session:
            chunks.append(await prune_finished_ledgers(session, finished_before=cutoff, limit=2))

    assert chunks == [2, 2, 1, 0, 0]
    async with sessions.begin() as session:
        assert await list_items(session, old.id) == []
        assert len(await list_items(session, recent.id)) == 5
        assert len(await list_items(session, active.id)) == 2
        pruned = await get_import(session, old.id)
        kept = await get_import(session, recent.id)
    assert pruned is not None and kept is not None
    assert pruned.ledger_pruned_at is not None and kept.ledger_pruned_at is None
    assert (pruned.status, pruned.total, pruned.added, pruned.failed) == (
        ImportStatus.FAILED,
        5,
        1,
        1,
    )  # the record and its counters stay
    with pytest.raises(ImportLedgerPruned):
        async with sessions.begin() as session:
            await reset_unadded_for_retry(session, old.id)
    async with sessions.begin() as session:
        stored = await get_import(session, old.id)
    assert stored is not None and stored.status is ImportStatus.FAILED
