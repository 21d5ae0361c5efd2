"""Chaos: the worker's process group is SIGKILLed while four imports stand at four different
points; a new worker finishes them all, each track exactly once, with few extra calls.

The engine re-queues a dead worker's tasks about 30 s after its last heartbeat, so the four
kill points share one kill instead of paying that wait four times.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import pytest

from bot.services import BotServices
from devtools.worker_process import WorkerProcess
from fakes.discord_api import FakeDiscord
from fakes.interactions import FakeUser
from fakes.spotify import FakeSpotify
from fakes.spotify_model import Fault
from storage.enums import ImportStatus
from tests.bot.e2e.test_import import catalog_entry, start_import, target_uris, wait_finished
from tests.bot.support import Member, link_directly
from tests.waiting import async_wait_until

pytestmark = pytest.mark.engine

ADD = "POST /v1/playlists/{id}/items"
CREATE = "POST /v1/me/playlists"
TRACKS = 400
#: create, find-by-marker, reconcile read, and one add per 100 tracks
BASELINE_CALLS = 3 + TRACKS // 100
MAX_EXTRA_CALLS = 6


@dataclass
class KillPoint:
    name: str
    member: Member
    fault: Fault
    import_id: int = 0

    def reached(self, fake: FakeSpotify) -> bool:
        if self.fault.kind == "429":
            return fake.count(ADD, user=self.member.spotify_id, status=429) >= 1
        return self.fault.fired >= 1


def _answered(fake: FakeSpotify, point: KillPoint) -> bool:
    """Whether the fault's call has been answered (calls are recorded when answered)."""
    return any(
        c.fault == point.fault.kind and c.user_id == point.member.spotify_id for c in fake.calls
    )


async def _until(check: Callable[[], bool], within: float, what: str) -> None:
    await async_wait_until(check, timeout=within, message=f"timed out waiting for {what}")


async def test_sigkill_at_four_points_then_a_new_worker_finishes_exactly_once(
    fake_spotify: FakeSpotify,
    fake_discord: FakeDiscord,
    services: BotServices,
    start_mixtape_worker: Callable[[], Awaitable[WorkerProcess]],
    guild_id: int,
    channel_id: int,
    alice: Member,
) -> None:
    songs = fake_spotify.generate_tracks(TRACKS, seed=31)
    entry = await catalog_entry(services, fake_spotify, guild_id, alice.id, songs)
    for name in ("dee", "eve", "fay", "gus"):
        fake_spotify.add_user(name, name.title())
    members = [
        Member(FakeUser(10**17 + i, name), name)
        for i, name in enumerate(("dee", "eve", "fay", "gus"))
    ]
    for member in members:
        await link_directly(services, fake_spotify, member)
    points = [
        # the create lands after the kill: the new worker must find it, not make another
        KillPoint(
            "before the target is recorded",
            members[0],
            fake_spotify.inject(CREATE, "delay", seconds=12, user="dee"),
        ),
        # the first add hangs and dies unapplied: the re-check finds nothing, adds once
        KillPoint(
            "mid-batch", members[1], fake_spotify.inject(ADD, "stall", seconds=60, user="eve")
        ),
        # the add lands after the kill, before the ledger heard of it
        KillPoint(
            "after a batch landed, before the ledger commit",
            members[2],
            fake_spotify.inject(ADD, "delay", seconds=12, user="fay"),
        ),
    ]
    worker = await start_mixtape_worker()
    for point in points:
        point.import_id = await start_import(
            services, fake_discord, guild_id, channel_id, point.member, entry
        )
    await _until(lambda: all(p.reached(fake_spotify) for p in points), 30, "three kill points")
    # Last, as a 429 holds back every import (Spotify's limits are per app): a 40 s
    # Retry-After that the parent sleeps out durably, on the engine, through the kill.
    sleeper = KillPoint(
        "during a durable sleep",
        members[3],
        fake_spotify.inject(ADD, "429", retry_after=40, user="gus"),
    )
    sleeper.import_id = await start_import(
        services, fake_discord, guild_id, channel_id, sleeper.member, entry
    )
    points.append(sleeper)
    await _until(lambda: sleeper.reached(fake_spotify), 30, "the 429")
    await asyncio.sleep(0.5)  # let the durable sleep be registered with the engine
    # The delayed calls are still in flight: they land after the kill, unheard.
    assert all(p.fault.kind != "delay" or not _answered(fake_spotify, p) for p in points)

    worker.kill()
    killed_at = time.monotonic()
    await start_mixtape_worker()

    rows = [await wait_finished(services, p.import_id, within=180) for p in points]

    report = []
    for point, row in zip(points, rows, strict=True):
        user = point.member.spotify_id
        assert row.status is ImportStatus.COMPLETED, (point.name, row.error)
        assert target_uris(fake_spotify, row) == [s.uri for s in songs], point.name
        assert len(fake_spotify.playlists_of(user)) == 1, point.name  # no second target
        calls = fake_spotify.count(user=user)
        after_kill = [c.at for c in fake_spotify.calls if c.user_id == user and c.at > killed_at]
        assert after_kill, f"{point.name}: no call after the kill"
        resumed = min(after_kill) - killed_at
        report.append(
            f"{point.name}: {calls} calls ({calls - BASELINE_CALLS} extra), "
            f"resumed {resumed:.1f}s after the kill"
        )
        assert calls - BASELINE_CALLS <= MAX_EXTRA_CALLS, (point.name, calls)
    assert fake_spotify.calls_inside_retry_after_windows() == []
    print("\n" + "\n".join(report))
