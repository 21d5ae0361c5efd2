"""Several workers on one engine, as compose's WORKER_REPLICAS runs them.

Three worker processes serve imports from many members; one is SIGKILLed (its whole
process group, as an OOM kill or a lost host would) while every import is mid-way. The
other two and the engine finish them all: every target equals its source, in order, with
no duplicate and no second target playlist. And a SIGTERMed worker drains for at most
WORKER_DRAIN_SECONDS (the SDK alone waits for a running step without a bound), then leaves
that step to a live worker, which finishes the import exactly.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from bot.services import BotServices
from devtools.worker_process import WorkerProcess
from fakes.discord_api import FakeDiscord
from fakes.interactions import FakeUser
from fakes.spotify import FakeSpotify
from storage.enums import ImportStatus
from tests.bot.e2e.test_import import catalog_entry, start_import, target_uris, wait_finished
from tests.bot.support import Member, link_directly
from tests.deploy.processes import group_members
from tests.waiting import async_wait_until

pytestmark = pytest.mark.engine

ADD = "POST /v1/playlists/{id}/items"
MEMBERS = 8
TRACKS = 300


async def _until(
    check: Callable[[], bool], within: float, what: str, state: Callable[[], object] = str
) -> None:
    await async_wait_until(
        check,
        timeout=within,
        interval=0.1,
        message=lambda _: f"timed out waiting for {what}: {state()}",
    )


def _describe(pids: set[int]) -> list[str]:
    """What each leftover process is, for the failure message."""
    found = []
    for pid in sorted(pids):
        try:
            found.append(f"{pid}: {Path(f'/proc/{pid}/cmdline').read_bytes()!r}")
        except OSError:
            found.append(f"{pid}: gone")
    return found


async def _members(services: BotServices, fake: FakeSpotify, count: int) -> list[Member]:
    members = []
    for i in range(count):
        name = f"replica{i}"
        fake.add_user(name, name.title())
        member = Member(FakeUser(10**17 + 500 + i, name), name)
        await link_directly(services, fake, member)
        members.append(member)
    return members


async def test_three_workers_one_killed_mid_import_every_target_exact(
    fake_spotify: FakeSpotify,
    fake_discord: FakeDiscord,
    services: BotServices,
    start_mixtape_worker: Callable[..., Awaitable[WorkerProcess]],
    guild_id: int,
    channel_id: int,
    alice: Member,
) -> None:
    songs = fake_spotify.generate_tracks(TRACKS, seed=53)
    entry = await catalog_entry(services, fake_spotify, guild_id, alice.id, songs)
    members = await _members(services, fake_spotify, MEMBERS)
    workers = [await start_mixtape_worker() for _ in range(3)]
    # Slow adds, so every import is still adding when the kill comes.
    fake_spotify.inject(ADD, "delay", times=None, seconds=1.5)
    imports = [
        await start_import(services, fake_discord, guild_id, channel_id, m, entry) for m in members
    ]

    def adding(member: Member) -> bool:
        return fake_spotify.count(ADD, user=member.spotify_id) >= 1

    await _until(
        lambda: all(adding(m) for m in members),
        120,
        "every import to be adding",
        lambda: (
            {m.spotify_id: fake_spotify.count(user=m.spotify_id) for m in members},
            [w.log_tail(5) for w in workers],
        ),
    )
    victim = workers[0]
    victim.kill()
    assert group_members(victim.pid) == set()
    fake_spotify.clear_faults()

    rows = [await wait_finished(services, i, within=240) for i in imports]

    for member, row in zip(members, rows, strict=True):
        assert row.status is ImportStatus.COMPLETED, (member.spotify_id, row.error)
        assert target_uris(fake_spotify, row) == [s.uri for s in songs], member.spotify_id
        assert len(fake_spotify.playlists_of(member.spotify_id)) == 1, member.spotify_id
    assert all(w.popen is not None and w.popen.poll() is None for w in workers[1:])


async def test_a_sigtermed_worker_drains_within_its_bound_then_the_work_moves_on(
    fake_spotify: FakeSpotify,
    fake_discord: FakeDiscord,
    services: BotServices,
    start_mixtape_worker: Callable[..., Awaitable[WorkerProcess]],
    guild_id: int,
    channel_id: int,
    alice: Member,
    bob: Member,
) -> None:
    songs = fake_spotify.generate_tracks(150, seed=59)
    entry = await catalog_entry(services, fake_spotify, guild_id, alice.id, songs)
    await link_directly(services, fake_spotify, bob)
    # The first add hangs for 60 s (the HTTP timeout is longer): a step the SDK would
    # wait for to the end.
    stall = fake_spotify.inject(ADD, "delay", seconds=60, user=bob.spotify_id)
    draining = await start_mixtape_worker(
        {"WORKER_DRAIN_SECONDS": "3", "HTTP_TIMEOUT_SECONDS": "120"}
    )
    import_id = await start_import(services, fake_discord, guild_id, channel_id, bob, entry)
    await _until(lambda: stall.fired >= 1, 60, "the add to hang")

    assert draining.popen is not None
    os.kill(draining.pid, signal.SIGTERM)  # as tini passes on `docker stop`
    sent = time.monotonic()
    await asyncio.to_thread(draining.popen.wait, 60)
    took = time.monotonic() - sent
    assert took < 3 + 15, took
    # The SDK's helper processes are stopped by the same bound (they may take a moment
    # longer than the main process to be reaped, never past the bound).
    await _until(
        lambda: group_members(draining.pid) == set(),
        max(3 + 15 - (time.monotonic() - sent), 0.5),
        "the worker's process group to be gone",
        lambda: _describe(group_members(draining.pid)),
    )

    await start_mixtape_worker()
    row = await wait_finished(services, import_id, within=180)
    assert row.status is ImportStatus.COMPLETED, row.error
    assert target_uris(fake_spotify, row) == [s.uri for s in songs]
    assert len(fake_spotify.playlists_of(bob.spotify_id)) == 1
