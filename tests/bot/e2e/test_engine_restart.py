"""The Hatchet engine itself restarts mid-import: the worker reconnects and the import still
ends exactly once. Runs on a private engine of its own, since it restarts it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from hatchet_sdk import Hatchet

from bot.services import BotServices, open_services
from devtools.stack import LocalStack, StackInfo
from devtools.worker_process import WorkerProcess
from fakes.discord_api import FakeDiscord
from fakes.spotify import FakeSpotify
from mixtape.settings import Settings
from storage import imports
from storage.enums import ImportStatus
from storage.models import Import
from storage.types import utcnow
from tests.bot.e2e.test_import import catalog_entry, start_import, target_uris
from tests.bot.support import Member, link_directly
from workflows.client import create_hatchet
from workflows.watchdog import WATCHDOG

pytestmark = pytest.mark.engine

ADD = "POST /v1/playlists/{id}/items"


@pytest.fixture
def private_stack(
    tmp_path: Path, stack_env: dict[str, str]
) -> Iterator[tuple[LocalStack, StackInfo]]:
    """A stack of this test's own; `stack_env` first, so the binaries are known good."""
    stack = LocalStack(tmp_path / "stack")
    try:
        yield stack, stack.start()
    finally:
        stack.stop()


def services_hatchet(services: BotServices) -> Hatchet:
    return services.dispatcher._hatchet  # the bot's client, on the private engine


async def current(services: BotServices, import_id: int) -> Import:
    async with services.sessions.begin() as s:
        row = await imports.get_import(s, import_id)
    assert row is not None
    return row


@pytest.fixture
async def services(
    settings: Settings,
    private_stack: tuple[LocalStack, StackInfo],
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[BotServices]:
    """The bot's dispatcher talks to the private engine."""
    for key, value in private_stack[1].client_env().items():
        monkeypatch.setenv(key, value)
    async with open_services(settings, create_hatchet) as built:
        yield built


async def test_engine_restart_mid_import_ends_exactly_once(
    fake_spotify: FakeSpotify,
    fake_discord: FakeDiscord,
    services: BotServices,
    private_stack: tuple[LocalStack, StackInfo],
    start_mixtape_worker: Callable[..., Awaitable[WorkerProcess]],
    guild_id: int,
    channel_id: int,
    alice: Member,
    bob: Member,
) -> None:
    stack, info = private_stack
    songs = fake_spotify.generate_tracks(600, seed=51)
    entry = await catalog_entry(services, fake_spotify, guild_id, alice.id, songs)
    await link_directly(services, fake_spotify, bob)
    fake_spotify.inject(ADD, "delay", times=None, seconds=1.0)
    worker = await start_mixtape_worker({**info.client_env(), "IMPORT_STALL_SECONDS": "15"})
    import_id = await start_import(services, fake_discord, guild_id, channel_id, bob, entry)
    await asyncio.to_thread(fake_spotify.wait_for_calls, 2, ADD, None, 60)

    await asyncio.to_thread(stack.restart_engine)
    fake_spotify.clear_faults()

    # v0.105.0 can lose a child's result across the restart and leave the durable parent
    # evicted for good. The watchdog (a cron, every minute) hands such an import to a fresh
    # run once it has been quiet for IMPORT_STALL_SECONDS; here we run it at once.
    watchdog = services_hatchet(services).stubs.task(name=WATCHDOG)
    deadline = time.monotonic() + 240
    while True:
        row = await current(services, import_id)
        if row.status.is_terminal or time.monotonic() > deadline:
            break
        if utcnow() - row.updated_at > timedelta(seconds=16):
            await watchdog.aio_run()
        await asyncio.sleep(1.0)
    if not row.status.is_terminal:
        print(worker.log_tail(80))
    assert row.status is ImportStatus.COMPLETED, row.error
    assert target_uris(fake_spotify, row) == [s.uri for s in songs]  # exactly once
