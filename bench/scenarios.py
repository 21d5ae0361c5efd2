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

Chaos = Literal["burst", "kill", "kill one", "discord"] | None
#: Discord answers every progress edit 429 for this long, with this Retry-After (short
#: enough that discord.py waits it out inside the edit, as it did inline before).
DISCORD_429_SECONDS, DISCORD_RETRY_AFTER = 60.0, 5.0
#: Mixtape's import with Discord answering 429 to every edit, and the quiet import it is
#: compared with; the default set alternates them (`bench.__main__.discord_pairs`).
DISCORD_429, DISCORD_QUIET = "Discord 429s on edits", "Discord quiet (control)"
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
    workers: int = 1  # worker processes of each durable design, on the one engine
    cache_warm: bool = False  # the songs were searched before (Mixtape's match cache)
    #: following (bench/follow.py): `members` unchanged entries of `tracks` songs each
    #: checked, or `members` followers of one entry whose source gained `tracks` songs
    follow: Literal["unchanged", "changed"] | None = None


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
    workers: int = 1
    #: 429s of the fake's rolling per-app limit (not the injected ones)
    rate_limited: int = 0
    #: seconds since start at which each member's import was finished, sorted
    finished: list[float] = field(default_factory=list)
    #: the fewest calls the import needs, one after another, x the fake's latency
    floor_s: float | None = None
    #: playlists the members hold beyond one each (a second target)
    extra_playlists: int = 0
    #: following (bench/follow.py): which scenario, and the fewest calls it needs
    follow: str | None = None
    floor_calls: int | None = None

    @property
    def throughput(self) -> float:
        """Tracks imported per second, all members together."""
        return self.tracks * self.members / self.wall_s if self.wall_s else 0.0

    @property
    def spread_s(self) -> float | None:
        """Seconds between the first and the last member to finish."""
        return self.finished[-1] - self.finished[0] if len(self.finished) > 1 else None


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
    if chaos == "kill one":  # one of the workers dies once a third of all tracks are in
        total = sum(len(j.songs) for j in jobs)
        deadline = time.monotonic() + 900
        while sum(target_length(world, j.member.spotify_id) for j in jobs) * 3 < total:
            if time.monotonic() > deadline:
                return
            await asyncio.sleep(0.05)
        fired.append(time.monotonic())
        await design.kill_one()
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
    await design.linked(members)  # not measured: a member links before importing
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

        async def finish(handle: Handle) -> float:
            await design.wait(handle, within=1800)
            return round(time.monotonic() - t0, 2)

        finished = sorted(await asyncio.gather(*(finish(h) for h in handles)))
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
    extra_playlists = sum(max(0, len(world.spotify.playlists_of(u)) - 1) for u in users)
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
        workers=scenario.workers,
        rate_limited=sum(1 for c in calls if c.fault == "rate_limit"),
        finished=finished,
        floor_s=floor_seconds(scenario, world.config.latency, world.config.rate_limit),
        extra_playlists=extra_playlists,
    )


def floor_seconds(
    scenario: Scenario, latency: float, limit: tuple[int, float] | None
) -> float | None:
    """The physical floor of an import: its fewest calls, one after another, x latency.

    Per member: one create, one add per 100 tracks, and one search per song when the songs
    come without URIs and were never searched before. Members import side by side, so the
    floor is one member's chain, unless the app's rolling limit (`limit`) holds all the
    members' calls back longer. None for the 429 burst and the worker SIGKILL, whose waits
    are the scenario's own.
    """
    if scenario.chaos in ("burst", "kill"):
        return None
    searches = 0 if scenario.with_uris or scenario.cache_warm else scenario.tracks
    per_member = 1 + math.ceil(scenario.tracks / 100) + searches
    floor = per_member * latency
    if limit is not None:
        max_calls, window = limit
        floor = max(floor, (scenario.members * per_member - max_calls) * window / max_calls)
    return round(floor, 3)
