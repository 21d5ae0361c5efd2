"""Pacing counts calls, not steps: re-checking a 10,000-track copy at Spotify-like latency.

Before, one reconcile step paged through the whole target (200 reads) under a fixed 30 s
timeout and one rate-limit unit: at 250 ms a call it timed out and started over. Now each
page is charged and read in page-sized children whose timeouts follow from their calls.
"""

from __future__ import annotations

import pytest
from hatchet_sdk import Hatchet

from bot.services import BotServices
from devtools.worker_process import WorkerProcess
from fakes.discord_api import FakeDiscord
from fakes.spotify import FakeSpotify
from storage.enums import ImportStatus
from tests.bot.e2e.test_import import catalog_entry, start_import, target_uris, wait_finished
from tests.bot.support import Member, link_directly, rate_limit
from tests.waiting import async_wait_until
from workflows.contracts import member_rate_limit_key
from workflows.import_playlist import marker

pytestmark = pytest.mark.engine

ITEMS = "GET /v1/playlists/{id}/items"
ADD = "POST /v1/playlists/{id}/items"
LIST = "GET /v1/me/playlists"
CREATE = "POST /v1/me/playlists"


async def test_rechecking_a_10000_track_copy_at_250_ms_a_call_reads_each_page_once(
    fake_spotify: FakeSpotify,
    fake_discord: FakeDiscord,
    services: BotServices,
    worker: WorkerProcess,
    guild_id: int,
    channel_id: int,
    alice: Member,
    bob: Member,
) -> None:
    songs = fake_spotify.generate_tracks(10_000, seed=71)
    entry = await catalog_entry(services, fake_spotify, guild_id, alice.id, songs)
    await link_directly(services, fake_spotify, bob)
    copy = fake_spotify.add_playlist(  # an earlier import's complete copy
        "bob",
        "Summer",
        songs,
        public=False,
        description=f"Imported with Mixtape. {marker(guild_id, entry)}",
    )
    fake_spotify.reset_calls()
    fake_spotify.set_latency(0.25)

    import_id = await start_import(services, fake_discord, guild_id, channel_id, bob, entry)
    row = await wait_finished(services, import_id, within=400)

    assert row.status is ImportStatus.COMPLETED, row.error
    assert row.target_playlist_id == copy.id
    assert (row.added, row.already_present) == (0, 10_000)
    assert target_uris(fake_spotify, row) == [s.uri for s in songs]
    # Every page read once: no step timed out and started its reads over.
    assert fake_spotify.count(ITEMS) == 10_000 // 50
    assert fake_spotify.count(ADD) == 0 and fake_spotify.count(LIST) == 1


async def test_a_members_steps_are_paced_by_the_key_that_link_creates(
    fake_spotify: FakeSpotify,
    fake_discord: FakeDiscord,
    services: BotServices,
    worker: WorkerProcess,
    bot_hatchet: Hatchet,
    guild_id: int,
    channel_id: int,
    alice: Member,
    bob: Member,
) -> None:
    """The key /link creates ahead (test_accounts) is the one the tasks' dynamic key renders:
    a member linked without the callback gets it from their first task, same name, same
    limit."""
    songs = fake_spotify.generate_tracks(3, seed=72)
    entry = await catalog_entry(services, fake_spotify, guild_id, alice.id, songs)
    await link_directly(services, fake_spotify, bob)
    key = member_rate_limit_key(bob.id)
    assert await rate_limit(bot_hatchet, key) is None

    import_id = await start_import(services, fake_discord, guild_id, channel_id, bob, entry)
    row = await wait_finished(services, import_id, within=60)

    assert row.status is ImportStatus.COMPLETED, row.error
    limit = await rate_limit(bot_hatchet, key)
    assert limit is not None
    assert limit.limit_value == services.settings.spotify_member_calls_per_minute


async def test_a_members_bucket_is_charged_the_calls_the_import_made(
    fake_spotify: FakeSpotify,
    fake_discord: FakeDiscord,
    services: BotServices,
    worker: WorkerProcess,
    bot_hatchet: Hatchet,
    guild_id: int,
    channel_id: int,
    alice: Member,
    bob: Member,
) -> None:
    """A new import of 2,150 known songs makes 24 calls (list, create, 22 adds): two add
    children, of 20 batches and of 2. Each add child is charged the batches left, not the
    most one child may append (that was 2 + 20 + 20 = 42 units, and twenty 100-track
    imports drained the app's bucket for a minute)."""
    songs = fake_spotify.generate_tracks(2_150, seed=73)
    entry = await catalog_entry(services, fake_spotify, guild_id, alice.id, songs)
    await link_directly(services, fake_spotify, bob)
    key = member_rate_limit_key(bob.id)
    fake_spotify.reset_calls()

    import_id = await start_import(services, fake_discord, guild_id, channel_id, bob, entry)
    row = await wait_finished(services, import_id, within=120)

    assert row.status is ImportStatus.COMPLETED, row.error
    assert target_uris(fake_spotify, row) == [s.uri for s in songs]
    assert bob.spotify_id is not None
    calls = fake_spotify.count(user=bob.spotify_id)
    assert (fake_spotify.count(LIST), fake_spotify.count(CREATE)) == (1, 1)
    assert (fake_spotify.count(ADD), calls) == (22, 24)

    async def charged() -> int | None:
        limit = await rate_limit(bot_hatchet, key)
        spent = limit.limit_value - limit.value if limit else 0
        return spent if spent >= calls else None  # the scheduler writes its counts lazily

    spent = await async_wait_until(
        charged, timeout=15, interval=0.25, message=f"{key} was never charged {calls} units"
    )
    # The key was made by the first task of this import, a minute's bucket: no refill yet.
    assert spent == calls
