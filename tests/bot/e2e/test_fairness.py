"""Guilds are served fairly: one guild's big import does not starve another guild's small one.

Measured on the real engine and worker with two slots: a 20-track import alone, then the same
import started five times while another guild's 5,000-track import searches its songs (its
parent keeps several searches queued at a time). The small import may wait for a slot now and
then, never behind the big one's searches.
"""

from __future__ import annotations

import random
import time
from collections.abc import Awaitable, Callable

import pytest
from hatchet_sdk import Hatchet

from bot.services import BotServices
from devtools.worker_process import WorkerProcess
from fakes.discord_api import FakeDiscord
from fakes.spotify import FakeSpotify
from storage import catalog, imports, ledger
from storage.catalog import TrackData
from storage.enums import ImportStatus
from tests.bot.e2e.test_import import catalog_entry, names, start_import, wait_finished
from tests.bot.support import Member, app_bucket_holds, link_directly
from tests.waiting import async_wait_until

pytestmark = pytest.mark.engine

#: A worker as small as the starvation showed on: two slots. Spotify's pacing is out of the
#: way: were the big import's member to run dry of calls, its searches would stop, and a
#: small import starved of slots would look served.
SMALL_WORKER = {
    "WORKER_SLOTS": "2",
    "SPOTIFY_MEMBER_CALLS_PER_MINUTE": "3000",
    "SPOTIFY_APP_CALLS_PER_MINUTE": "3000",
}
#: Room the five counts need in the app's bucket: the big import searches about 12 songs a
#: second, for some 20 to 60 s.
APP_UNITS = 900
#: Spotify's answers take about this long (seconds).
LATENCY = 0.1
SEARCH = "GET /v1/search"
#: The big import's searches that may run while the small one is under way (the median of
#: five counts). Measured on 30 November with the per-guild key: 23, 55, 26, 42, 50 and 33,
#: 45, 13, 15, 110 (medians 42 and 33; CI's three counts 27, 49, 42 broke the earlier bound
#: of 40); without it (IMPORT_STEPS_PER_GUILD=2): 115, 305, 251, 231, 408 (median 251).
OVERTAKEN_AT_MOST = 80


async def timed_small_import(
    services: BotServices,
    fake_discord: FakeDiscord,
    fake_spotify: FakeSpotify,
    member: Member,
    seed: int,
) -> float:
    """Seconds a fresh 20-track import in a guild of its own takes, dispatch to finish."""
    guild = random.randrange(10**17, 10**18)
    channel = fake_discord.add_channel(guild_id=guild, name="general")
    songs = fake_spotify.generate_tracks(20, seed=seed)
    entry = await catalog_entry(
        services, fake_spotify, guild, member.id, songs, name=f"Small {seed}"
    )
    started = time.monotonic()
    import_id = await start_import(services, fake_discord, guild, channel, member, entry)
    row = await wait_finished(services, import_id, within=120)
    assert row.status is ImportStatus.COMPLETED, row.error
    return time.monotonic() - started


async def resolving(services: BotServices, import_id: int) -> None:
    """Wait until the import's parent is running resolve children (past its prepare step)."""

    async def twenty_resolved() -> bool:
        async with services.sessions.begin() as s:  # reads only: the worker writes meanwhile
            counts = await ledger.count_states(s, import_id)
        return counts.resolved >= 20

    await async_wait_until(
        twenty_resolved,
        timeout=120,
        interval=0.2,
        message=f"import {import_id} resolved nothing within 120 s",
    )


async def test_a_big_import_does_not_starve_another_guilds_small_one(
    fake_spotify: FakeSpotify,
    fake_discord: FakeDiscord,
    services: BotServices,
    start_mixtape_worker: Callable[..., Awaitable[WorkerProcess]],
    guild_id: int,
    channel_id: int,
    alice: Member,
    bob: Member,
    carol: Member,
    bot_hatchet: Hatchet,
) -> None:
    await start_mixtape_worker(SMALL_WORKER)
    fake_spotify.set_latency(LATENCY)
    await link_directly(services, fake_spotify, alice)
    await link_directly(services, fake_spotify, bob)
    await timed_small_import(services, fake_discord, fake_spotify, bob, seed=30)  # warm-up
    alone = await timed_small_import(services, fake_discord, fake_spotify, bob, seed=31)

    big_songs = fake_spotify.generate_tracks(5_000, seed=32)
    big = await catalog_entry(services, fake_spotify, guild_id, carol.id, big_songs, name="Big")
    async with services.sessions.begin() as s:  # as if shared from another service: searched
        await catalog.replace_catalog_tracks(
            s,
            big,
            [
                TrackData(title=t.name, artists=names(t), duration_ms=t.duration_ms, isrc=t.isrc)
                for t in big_songs
            ],
        )
    # The app's bucket is the engine's, drawn from by earlier tests: it must hold the counts,
    # or the small one's steps wait for its refill while the big one's searches run.
    await app_bucket_holds(bot_hatchet, APP_UNITS)
    big_import = await start_import(services, fake_discord, guild_id, channel_id, alice, big)
    await resolving(services, big_import)
    # Five small imports, one after another: the engine polls a queue it found no slot
    # for about once a second, so one unlucky poll can let many more searches through;
    # starvation shows in every one of them.
    contended: list[tuple[float, int]] = []
    for seed in (33, 34, 35, 36, 37):
        before = time.monotonic()
        took = await timed_small_import(services, fake_discord, fake_spotify, bob, seed=seed)
        after = time.monotonic()
        # What ran while the small import waited: the big one's searches, at the fake.
        overtaken = sum(
            1
            for c in fake_spotify.calls
            if c.user_id == "ada" and c.route == SEARCH and before <= c.at <= after
        )
        contended.append((took, overtaken))

    async with services.sessions.begin() as s:
        counts = await imports.counts_by_state(s, big_import)
        await imports.cancel_import(s, big_import)
    print(
        f"20-track import alone: {alone:.1f}s; beside another guild's 5,000-track import: "
        + ", ".join(f"{took:.1f}s while {n} of its searches ran" for took, n in contended)
        + f" (it had {counts.pending:,} songs left to search)"
    )
    assert counts.pending > 0  # it really was running meanwhile
    # Not timed (figures belong to bench/): counted. Without the per-guild key the small
    # import waited behind a long queue of the big one's searches; with it, the guilds'
    # searches take turns and only a few slip in ahead.
    assert sorted(n for _, n in contended)[2] <= OVERTAKEN_AT_MOST  # the median
    await wait_finished(services, big_import, within=60)
