"""The three designs behind one interface: start an import, wait for it, kill its worker.

Each design talks to the fake Spotify as an app of its own, so Retry-After windows and the
fake's rolling rate limit apply per design, as Spotify applies them per app.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from hatchet_sdk import WorkflowRunRef

from bench import per_track
from bench.world import NAMESPACES, Member, World, hatchet_in
from bot.dispatch import WorkflowDispatcher
from devtools.stack import REPO_ROOT
from storage import imports
from storage.enums import ImportStatus
from storage.models import Import
from workflows.contracts import ImportInput

PLAIN_RESTARTS = 5
#: Between a member's /link and their /import (the consent page, then the command and its
#: autocomplete) pass seconds; 3 s is also past the engine's next refresh of its rate
#: limits (at most about 2 s), when the key the link created becomes visible to its
#: scheduler.
LINK_TO_IMPORT_SECONDS = 3.0
T = TypeVar("T")


@dataclass
class Job:
    """One member importing one playlist."""

    member: Member
    songs: list[Any]
    entry_id: int  # Mixtape's catalog entry for these songs
    with_uris: bool
    name: str

    @property
    def uris(self) -> list[str]:
        return [s.uri for s in self.songs] if self.with_uris else []

    @property
    def queries(self) -> list[str]:
        return [] if self.with_uris else [f"isrc:{s.isrc}" for s in self.songs]


@dataclass
class Handle:
    job: Job
    ref: Any = None
    target: str | None = None
    error: str | None = None
    restarts: int = 0


class Design(Protocol):
    name: str
    client_id: str
    tracks_per_add: int

    def process_groups(self) -> list[int]: ...
    async def setup(self, world: World) -> None: ...
    async def linked(self, members: list[Member]) -> None: ...
    async def begin(self, job: Job) -> Handle: ...
    async def wait(self, handle: Handle, within: float) -> None: ...
    async def kill(self) -> None: ...
    async def kill_one(self) -> None: ...
    async def scale(self, workers: int) -> None: ...


async def _until(probe: Callable[[], Awaitable[T | None]], within: float, what: str) -> T:
    """Poll `probe` until it returns a value."""
    deadline = time.monotonic() + within
    while (value := await probe()) is None:
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {within:.0f}s waiting for {what}")
        await asyncio.sleep(0.1)
    return value


@dataclass
class MixtapeDesign:
    """Mixtape itself: the real worker (`python -m workflows`), dispatched as /import does."""

    name: str = "mixtape"
    client_id: str = ""
    tracks_per_add: int = 100
    world: World | None = None
    dispatcher: WorkflowDispatcher | None = None

    async def setup(self, world: World) -> None:
        self.world = world
        self.client_id = world.spotify.default_app.client_id
        self.dispatcher = WorkflowDispatcher(hatchet_in(NAMESPACES[self.name]))
        await world.start_worker(self.name)

    def process_groups(self) -> list[int]:
        assert self.world
        return self.world.worker_groups(self.name)

    async def linked(self, members: list[Member]) -> None:
        """What Mixtape's OAuth callback does once a member is linked: create their
        rate-limit key in the engine; then the member's moment before /import."""
        assert self.world and self.dispatcher
        per_minute = self.world.config.member_calls_per_minute
        for member in members:
            async with asyncio.timeout(10):
                await self.dispatcher.declare_member(member.discord_id, per_minute)
        await asyncio.sleep(LINK_TO_IMPORT_SECONDS)

    async def begin(self, job: Job) -> Handle:
        assert self.world and self.dispatcher
        w = self.world
        async with w.sessions.begin() as s:
            row = await imports.create_import_with_ledger(
                s,
                guild_id=w.guild_id,
                discord_user_id=job.member.discord_id,
                catalog_playlist_id=job.entry_id,
                channel_id=w.channel_id,
            )
        message_id = await asyncio.to_thread(w.post_message, "Importing…")
        async with w.sessions.begin() as s:
            await imports.set_message_id(s, row.id, message_id)
        run_id = await self.dispatcher.import_playlist(
            ImportInput(import_id=row.id, discord_user_id=job.member.discord_id),
            guild_id=w.guild_id,
        )
        async with w.sessions.begin() as s:  # as /import does: the watchdog cancels by it
            await imports.set_workflow_run_id(s, row.id, run_id)
        return Handle(job, ref=row.id)

    async def wait(self, handle: Handle, within: float) -> None:
        assert self.world
        sessions = self.world.sessions

        async def finished() -> Import | None:
            async with sessions.begin() as s:
                row = await imports.get_import(s, int(handle.ref))
            return row if row is not None and row.status.is_terminal else None

        row = await _until(finished, within, f"Mixtape import {handle.ref}")
        handle.target = row.target_playlist_id
        if row.status is not ImportStatus.COMPLETED:
            handle.error = f"{row.status.value}: {row.error}"

    async def kill(self) -> None:
        assert self.world
        await self.world.replace_worker(self.name)

    async def kill_one(self) -> None:
        """SIGKILL one of the workers; the others carry on (no replacement)."""
        assert self.world
        await self.world.kill_worker(self.name)

    async def scale(self, workers: int) -> None:
        assert self.world
        await self.world.scale_workers(self.name, workers)


@dataclass
class PerTrackDesign:
    """The per-track durable design (bench/per_track.py) on the same engine."""

    name: str = "per-track"
    client_id: str = "per-track-app"
    tracks_per_add: int = 1
    world: World | None = None
    parent: Any = None
    sleep_on_429: float = per_track.SLEEP_ON_429_SECONDS

    async def setup(self, world: World) -> None:
        self.world = world
        world.spotify.add_app(self.client_id, "per-track-secret", [])
        *_, self.parent = per_track.build(hatchet_in(NAMESPACES[self.name]))
        await world.start_worker(self.name)

    def process_groups(self) -> list[int]:
        assert self.world
        return self.world.worker_groups(self.name)

    async def linked(self, members: list[Member]) -> None:
        """Nothing: its pacing is a fixed sleep on a 429."""

    async def begin(self, job: Job) -> Handle:
        assert self.world
        token = self.world.spotify.issue_token(job.member.spotify_id, client_id=self.client_id)
        ref: WorkflowRunRef = await self.parent.aio_run_no_wait(
            per_track.PerTrackInput(
                access_token=token.access_token,
                api_base=self.world.spotify.api_base,
                sleep_on_429=self.sleep_on_429,
                name=job.name,
                uris=job.uris,
                queries=job.queries,
            )
        )
        return Handle(job, ref=ref)

    async def wait(self, handle: Handle, within: float) -> None:
        try:
            await asyncio.wait_for(handle.ref.aio_result(), timeout=within)
        except Exception as exc:  # noqa: BLE001  (a failed run is a measured outcome)
            handle.error = str(exc)[:200]
            return
        # the target is looked up where the member would look: in their account
        handle.target = _by_name(self.world, handle.job)

    async def kill(self) -> None:
        assert self.world
        await self.world.replace_worker(self.name)

    async def kill_one(self) -> None:
        """SIGKILL one of the workers; the others carry on (no replacement)."""
        assert self.world
        await self.world.kill_worker(self.name)

    async def scale(self, workers: int) -> None:
        assert self.world
        await self.world.scale_workers(self.name, workers)


@dataclass
class PlainDesign:
    """The plain script (bench/plain_script.py), restarted from scratch when it dies."""

    name: str = "plain script"
    client_id: str = "plain-app"
    tracks_per_add: int = 100
    world: World | None = None
    running: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    async def setup(self, world: World) -> None:
        self.world = world
        world.spotify.add_app(self.client_id, "plain-secret", [])

    def process_groups(self) -> list[int]:
        return [p.pid for p in self.running.values() if p.poll() is None]

    async def linked(self, members: list[Member]) -> None:
        """Nothing: a script has no engine to tell."""

    def _spawn(self, handle: Handle) -> subprocess.Popen[bytes]:
        assert self.world
        job = handle.job
        token = self.world.spotify.issue_token(job.member.spotify_id, client_id=self.client_id)
        path = self.world.workdir / f"plain-{job.member.spotify_id}.json"
        path.write_text(
            json.dumps(
                {
                    "access_token": token.access_token,
                    "name": job.name,
                    "api_base": self.world.spotify.api_base,
                    "uris": job.uris,
                    "queries": job.queries,
                }
            )
        )
        popen = subprocess.Popen(
            [sys.executable, "-m", "bench.plain_script", str(path)],
            cwd=REPO_ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.running[job.member.spotify_id] = popen
        return popen

    async def begin(self, job: Job) -> Handle:
        handle = Handle(job)
        self._spawn(handle)
        return handle

    async def wait(self, handle: Handle, within: float) -> None:
        assert self.world
        deadline = time.monotonic() + within
        user = handle.job.member.spotify_id
        while True:
            popen = self.running[user]
            await asyncio.to_thread(popen.wait, max(deadline - time.monotonic(), 1))
            if popen.returncode == 0:
                break
            if handle.restarts >= PLAIN_RESTARTS or time.monotonic() > deadline:
                handle.error = f"gave up after {handle.restarts} restarts"
                break
            handle.restarts += 1  # crashed, killed or gave up on a 429: start over
            self._spawn(handle)
        handle.target = _by_name(self.world, handle.job)

    async def kill(self) -> None:
        for popen in self.running.values():
            if popen.poll() is None:
                os.killpg(popen.pid, signal.SIGKILL)

    async def kill_one(self) -> None:
        await self.kill()

    async def scale(self, workers: int) -> None:
        """No workers: one script per member."""


def _by_name(world: World | None, job: Job) -> str | None:
    """The member's playlist the design made (the first, if it made several)."""
    assert world
    mine = [p for p in world.spotify.playlists_of(job.member.spotify_id) if p.name == job.name]
    return mine[0].id if mine else None


def all_designs() -> list[Design]:
    return [MixtapeDesign(), PerTrackDesign(), PlainDesign()]
