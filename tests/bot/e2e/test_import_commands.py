"""/import, /cancel and /retry through the real command tree, the real engine and worker:
a cancelled import stops at a step boundary with a consistent ledger, and /retry adds only
what is missing, so the target still ends equal to the catalog, exactly once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import pytest

from bot.services import BotServices
from devtools.worker_process import WorkerProcess
from fakes.discord_api import FakeDiscord
from fakes.interactions import InteractionDriver
from fakes.spotify import FakeSpotify
from storage import imports, ledger
from storage.enums import ImportStatus, ItemState
from storage.models import Import
from tests.bot.e2e.test_import import catalog_entry, target_uris, wait_finished
from tests.bot.support import Member, embed_text, link_directly, pick
from tests.bot.test_share import done_thinking

pytestmark = pytest.mark.engine

ADD = "POST /v1/playlists/{id}/items"


async def only_import(services: BotServices, member: Member) -> Import:
    async with services.sessions.begin() as s:
        [row] = await imports.list_user_imports(s, member.id)
    return row


async def test_import_cancel_then_retry_lands_everything_once(
    driver: InteractionDriver,
    fake_spotify: FakeSpotify,
    fake_discord: FakeDiscord,
    services: BotServices,
    start_mixtape_worker: Callable[[], Awaitable[WorkerProcess]],
    guild_id: int,
    channel_id: int,
    alice: Member,
) -> None:
    songs = fake_spotify.generate_tracks(500, seed=41)
    entry = await catalog_entry(services, fake_spotify, guild_id, alice.id, songs, name="Long")
    await link_directly(services, fake_spotify, alice)
    fake_spotify.inject(ADD, "delay", times=None, seconds=1.5)  # a slow Spotify
    await start_mixtape_worker()

    handle = await driver.slash("import", {"playlist": pick(entry)})
    await handle.original(until=done_thinking)
    await asyncio.to_thread(fake_spotify.wait_for_calls, 2, ADD, None, 30)  # mid-import

    running = await only_import(services, alice)
    cancel = await driver.slash("cancel", {"import": pick(running.id)})
    assert "Cancelled" in str((await cancel.original(until=done_thinking)).get("content"))
    row = await wait_finished(services, (await only_import(services, alice)).id, within=30)
    assert row.status is ImportStatus.CANCELLED
    # Nothing moves once the cancel has settled: the run stopped at a step boundary.
    await asyncio.sleep(3)  # longer than one slow add: proves no batch follows
    settled = len(fake_spotify.playlist_uris(row.target_playlist_id or ""))
    assert 0 < settled < len(songs)
    async with services.sessions.begin() as s:
        items = await ledger.list_items(s, row.id)
    added = [i for i in items if i.state is ItemState.ADDED]
    assert [i.resolved_uri for i in added] == [s.uri for s in songs[: len(added)]]
    assert len(added) <= settled  # an add cut short by the cancel may have landed unrecorded

    fake_spotify.clear_faults()
    started = time.monotonic()
    retry = await driver.slash("retry", {"import": pick(row.id)})
    await retry.original(until=done_thinking)
    row = await wait_finished(services, row.id, within=90)
    while row.status is ImportStatus.CANCELLED and time.monotonic() - started < 30:
        await asyncio.sleep(0.2)  # the retry resets the status before its run starts
        row = await wait_finished(services, row.id, within=90)

    assert row.status is ImportStatus.COMPLETED, row.error
    assert target_uris(fake_spotify, row) == [s.uri for s in songs]  # exactly once, in order
    # The owner's notice is a reply under the progress message: the progress is the last non-reply.
    messages = fake_discord.messages(channel_id, include_ephemeral=False, include_replies=False)
    await fake_discord.async_wait_for(
        lambda: (
            "Imported"
            in embed_text(fake_discord.message(channel_id, int(messages[-1]["id"]))["embeds"])
        ),
        within=10,
    )
