"""Ledger retention on the real engine and worker: the scheduled sweep removes the per-track
rows of imports finished before the retention period, keeps the imports and their counts,
and /retry of such an import is refused with a clear message instead of retrying nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from bot.services import BotServices
from devtools.worker_process import WorkerProcess
from fakes.interactions import InteractionDriver
from fakes.spotify import FakeSpotify
from storage import imports
from storage.enums import ImportStatus
from storage.models import Import
from tests.bot.e2e.test_engine_restart import services_hatchet
from tests.bot.e2e.test_import import catalog_entry
from tests.bot.support import Member, embed_text, pick, settled_runs
from workflows.ledger_retention import LEDGER_RETENTION, RetentionOutput

pytestmark = pytest.mark.engine


async def finished_import(
    services: BotServices, guild_id: int, channel_id: int, member: Member, entry: int, days_ago: int
) -> int:
    """An import that added its first track, failed the rest, and finished `days_ago`."""
    async with services.sessions.begin() as s:
        row = await imports.create_import_with_ledger(
            s,
            guild_id=guild_id,
            discord_user_id=member.id,
            catalog_playlist_id=entry,
            channel_id=channel_id,
        )
        await imports.mark_item_resolved(s, row.id, 0, "spotify:track:" + "a" * 22)
        await imports.mark_items_added(s, row.id, [0])
        await imports.mark_items_failed(s, row.id, [1, 2], "Spotify refused it")
        await imports.counts_by_state(s, row.id)
        await imports.finish_import(s, row.id, ImportStatus.FAILED, error="stopped")
        await s.execute(
            update(Import)
            .where(Import.id == row.id)
            .values(finished_at=datetime.now(UTC) - timedelta(days=days_ago))
        )
        return row.id


async def test_old_ledgers_are_pruned_and_their_imports_not_retried(
    driver: InteractionDriver,
    fake_spotify: FakeSpotify,
    services: BotServices,
    worker: WorkerProcess,
    guild_id: int,
    channel_id: int,
    alice: Member,
    bob: Member,
) -> None:
    songs = fake_spotify.generate_tracks(3, seed=71)
    entry = await catalog_entry(services, fake_spotify, guild_id, alice.id, songs, name="Old")
    old = await finished_import(services, guild_id, channel_id, alice, entry, days_ago=91)
    recent = await finished_import(services, guild_id, channel_id, bob, entry, days_ago=89)

    # An hourly cron; run it now, as the engine would.
    sweep = services_hatchet(services).stubs.task(
        name=LEDGER_RETENTION, output_validator=RetentionOutput
    )
    out = await sweep.aio_run()
    answer = await (await driver.slash("retry", {"import": pick(old)})).response()

    assert out.deleted == 3
    async with services.sessions.begin() as s:
        assert await imports.list_items(s, old) == []
        assert len(await imports.list_items(s, recent)) == 3
        pruned = await imports.get_import(s, old)
    assert pruned is not None and pruned.ledger_pruned_at is not None
    assert (pruned.status, pruned.added, pruned.failed, pruned.total) == (
        ImportStatus.FAILED,
        1,
        2,
        3,
    )  # the record and its counts stay
    assert answer.ephemeral
    assert embed_text(answer.embeds).strip() == (
        "The import of **Old** is too old to retry: import it again with `/import` (songs "
        "already in your playlist are not added twice)."
    )
    assert await settled_runs(services_hatchet(services), services.dispatcher, guild_id) == []
    choices = await (
        await driver.autocomplete("retry", {"import": "old"}, focused="import")
    ).response()
    assert choices.choices == []
