"""Scenarios and what is measured of each design in them.

Everything is read from outside the design: calls and Retry-After windows from the fake
Spotify's record, the target from the fake's playlists, task runs from the engine's own
database, memory from /proc. A chaos event (429 burst or SIGKILL) fires when the target
holds a given share of the tracks, so it lands at the same point for every design.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from bench.designs import Design, Handle, Job
from bench.world import World
from fakes.spotify_model import Fault

Chaos = Literal["burst", "kill", "discord"] | None
#: Discord answers every progress edit 429 for this long, with this Retry-After (short
#: enough that discord.py waits it out inside the edit, as it did inline before).
DISCORD_429_SECONDS, DISCORD_RETRY_AFTER = 60.0, 5.0
EDIT = "PATCH /channels/{channel_id}/messages/{message_id}"
WRITE_ROUTES = ("POST /v1/playlists/{id}/items", "POST /v1/me/playlists")


@dataclass(frozen=True)
class Scenario:
    name: str
    tracks: int
    members: int = 1
    chaos: Chaos = None
    with_uris: bool = True
    side_by_side: bool = False  # run every design at once (shares the engine's kill timeout)
    designs: tuple[str, ...] = ("mixtape", "per-track", "plain script")


@dataclass
class Outcome:
    design: str
    scenario: str
    tracks: int
    members: int
    wall_s: float
    calls_by_route: dict[str, int]
    total_calls: int
    write_calls: int
    calls_in_retry_after: int
    duplicates: int
    missing: int
    in_order: bool
    task_runs: int | None
    task_attempts: int | None
    peak_worker_mib: float
    calls_after_chaos: int | None = None
    chaos_at: float | None = None  # seconds since start
    restarts: int = 0
    error: str | None = None
    #: seconds since start: every call (route, status) and every Retry-After window
    timeline: list[tuple[float, str, int]] = field(default_factory=list)
    windows: list[tuple[float, float]] = field(default_factory=list)
    #: per member: (seconds since start, tracks in their target)
    progress: dict[str, list[tuple[float, int]]] = field(default_factory=dict)


@dataclass(frozen=True)
class Timing:
    """Real-world times scaled down by one factor for every design."""

    scale: float

    @property
    def burst_retry_after(self) -> int:
        return max(1, round(60 * self.scale))

    @property
    def burst_seconds(self) -> float:
        return 90 * self.scale


class MemorySampler:
    """Peak resident memory of the design's process groups, sampled from /proc."""

    def __init__(self, design: Design) -> None:
        self.design, self.peak_kib = design, 0
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> MemorySampler:
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _run(self) -> None:
        while True:
            groups = set(self.design.process_groups())
            if groups:
                self.peak_kib = max(self.peak_kib, await asyncio.to_thread(_rss_kib, groups))
            await asyncio.sleep(0.2)


def _rss_kib(groups: set[int]) -> int:
    total = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        with contextlib.suppress(OSError, ValueError, IndexError):
            with open(f"/proc/{pid}/stat") as f:
                pgrp = int(f.read().rsplit(")", 1)[1].split()[2])
            if pgrp not in groups:
                continue
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
    return total


def target_length(world: World, user: str) -> int:
    """Tracks in the member's account (every run has a fresh member, so all are the run's)."""
    return sum(len(p.entries) for p in world.spotify.playlists_of(user))


ADD = "POST /v1/playlists/{id}/items"


async def _fired(faults: list[Fault], within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if any(f.fired for f in faults):
            return True
        await asyncio.sleep(0.02)
    return False


async def _chaos(
    world: World, design: Design, jobs: list[Job], chaos: Chaos, timing: Timing, fired: list[float]
) -> None:
    """Fire the scenario's event at the add that would take the target past a third.

    The fake itself holds that add (a kill lands while it is in flight, and it is applied
    after the kill, unheard) or answers it 429 (the burst starts there), so the event hits
    every design at the same point however fast it runs.
    """
    if chaos is None:
        return
    if chaos == "discord":  # from the start: the import must not notice
        world.discord.force_429(
            EDIT, retry_after=DISCORD_RETRY_AFTER, for_seconds=DISCORD_429_SECONDS
        )
        fired.append(time.monotonic())
        return
    skip = math.ceil(len(jobs[0].songs) / 3 / design.tracks_per_add)
    kind: Literal["delay", "429"] = "delay" if chaos == "kill" else "429"
    first = [
        world.spotify.inject(
            ADD,
            kind,
            1,
            seconds=3.0,
            user=j.member.spotify_id,
            retry_after=timing.burst_retry_after,
            skip=skip,
        )
        for j in jobs
    ]
    if not await _fired(first, within=900):
        return
    fired.append(time.monotonic())
    if chaos == "kill":
        await design.kill()
        return
    burst = [
        world.spotify.inject(
            "*", "429", None, retry_after=timing.burst_retry_after, user=j.member.spotify_id
        )
        for j in jobs
    ]
    await asyncio.sleep(timing.burst_seconds)
    with world.spotify.lock:
        for fault in burst:
            fault.remaining = 0


def _sample(
    world: World, jobs: list[Job], t0: float, into: dict[str, list[tuple[float, int]]]
) -> None:
    now = round(time.monotonic() - t0, 2)
    for job in jobs:
        into.setdefault(job.member.spotify_id, []).append(
            (now, target_length(world, job.member.spotify_id))
        )


async def _progress(
    world: World, jobs: list[Job], t0: float, into: dict[str, list[tuple[float, int]]]
) -> None:
    while True:
        _sample(world, jobs, t0, into)
        await asyncio.sleep(0.25)


async def run(
    world: World,
    design: Design,
    scenario: Scenario,
    songs: list[Any],
    entry_id: int,
    timing: Timing,
    label: str,
) -> Outcome:
    """One design through one scenario, measured."""
    members = [await world.member(label) for _ in range(scenario.members)]
    name = f"{scenario.name} ({label})"
    jobs = [Job(m, songs, entry_id, scenario.with_uris, name) for m in members]
    users = {m.spotify_id for m in members}
    since, t0 = datetime.now(UTC), time.monotonic()
    fired: list[float] = []
    progress: dict[str, list[tuple[float, int]]] = {}
    async with MemorySampler(design) as memory:
        watcher = asyncio.create_task(_progress(world, jobs, t0, progress))
        handles: list[Handle] = [await design.begin(job) for job in jobs]
        chaos = asyncio.create_task(_chaos(world, design, jobs, scenario.chaos, timing, fired))
        await asyncio.gather(*(design.wait(h, within=1800) for h in handles))
        wall = time.monotonic() - t0
        chaos.cancel()
        if scenario.chaos == "discord":
            world.discord.clear_faults()  # the next scenario starts with a quiet Discord
        watcher.cancel()
        _sample(world, jobs, t0, progress)
    calls = [c for c in world.spotify.calls if c.user_id in users]
    by_route = Counter(c.route for c in calls)
    inside = [
        c for c in world.spotify.calls_inside_retry_after_windows(per="app") if c.user_id in users
    ]
    windows = [
        (w.start - t0, w.end - t0) for w in world.spotify.retry_after_windows if w.user_id in users
    ]
    duplicates = missing = 0
    in_order = True
    wanted = [s.uri for s in songs]
    for handle in handles:
        got = world.spotify.playlist_uris(handle.target) if handle.target else []
        duplicates += len(got) - len(set(got))
        missing += len(set(wanted) - set(got))
        in_order = in_order and got == wanted
    runs = attempts = None
    if design.name in ("mixtape", "per-track"):
        runs, attempts = await world.task_runs(design.name, since)
    errors = [h.error for h in handles if h.error]
    return Outcome(
        design=design.name,
        scenario=scenario.name,
        tracks=scenario.tracks,
        members=scenario.members,
        wall_s=round(wall, 2),
        calls_by_route=dict(by_route),
        total_calls=len(calls),
        write_calls=sum(by_route[r] for r in WRITE_ROUTES),
        calls_in_retry_after=len(inside),
        duplicates=duplicates,
        missing=missing,
        in_order=in_order,
        task_runs=runs,
        task_attempts=attempts,
        peak_worker_mib=round(memory.peak_kib / 1024, 1),
        calls_after_chaos=(sum(1 for c in calls if c.at >= fired[0]) if fired else None),
        chaos_at=round(fired[0] - t0, 2) if fired else None,
        restarts=sum(h.restarts for h in handles),
        error="; ".join(errors) or None,
        timeline=[(round(c.at - t0, 3), c.route, c.status) for c in calls],
        windows=[(round(a, 3), round(b, 3)) for a, b in windows],
        progress=progress if scenario.members > 1 else {},
    )
