"""What every design runs against: one Hatchet engine, one fake Spotify, one fake Discord.

Each durable design gets a worker and a Hatchet namespace of its own (so its task runs can be
counted), Mixtape gets its database, and every import a fresh Spotify user (so calls,
Retry-After windows and playlists are told apart per run).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import random
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import requests
from cryptography.fernet import Fernet
from hatchet_sdk import Hatchet
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from devtools.stack import running_stack
from devtools.worker_process import WorkerProcess
from fakes.discord_api import FakeDiscord
from fakes.spotify import FakeSpotify
from music.spotify import SCOPES
from storage import accounts, catalog
from storage.catalog import TrackData
from storage.crypto import TokenCipher
from storage.engine import create_engine, make_sessionmaker
from storage.enums import PlaylistStatus
from storage.migrate import upgrade_to_head
from workflows.client import create_hatchet
from workflows.rate_limits import SPOTIFY_APP_KEY

#: each design's Hatchet namespace, unique to this run: another run on the same engine (a
#: test's quick bench) must not be handed this run's tasks, nor count them
_RUN = os.urandom(3).hex()
NAMESPACES = {"mixtape": f"mx{_RUN}_", "per-track": f"pt{_RUN}_"}
_STACK_KEYS = ("HATCHET_CLIENT_TOKEN", "MIXTAPE_TEST_PG_URL")


@dataclass(frozen=True)
class Member:
    """A Discord member with a linked Spotify account."""

    discord_id: int
    spotify_id: str
    access_token: str


@dataclass
class Config:
    latency: float = 0.03
    #: the fake's per-app rolling limit: (calls, seconds), as Spotify's rolling window
    rate_limit: tuple[int, float] | None = (300, 30.0)
    #: Mixtape's own pacing (per minute), set to stay inside the fake's limit
    app_calls_per_minute: int = 540
    member_calls_per_minute: int = 300


@contextlib.contextmanager
def stack_env() -> Iterator[dict[str, str]]:
    """The engine named by the environment (`python -m devtools.stack exec`), or a new one."""
    if all(os.environ.get(key) for key in _STACK_KEYS):
        yield {k: v for k, v in os.environ.items() if k.startswith(("HATCHET_", "MIXTAPE_"))}
        return
    with running_stack() as info:
        yield info.client_env()


def hatchet_in(namespace: str) -> Hatchet:
    """A client in one design's namespace (the SDK reads it from the environment)."""
    os.environ["HATCHET_CLIENT_NAMESPACE"] = namespace
    try:
        return create_hatchet()
    finally:
        os.environ.pop("HATCHET_CLIENT_NAMESPACE", None)


class World:
    """Start with `async with World(...)`; everything stops on exit."""

    def __init__(self, workdir: Path, config: Config) -> None:
        self.workdir, self.config = workdir, config
        self._exit = ExitStack()
        self._ids = itertools.count(1)
        self.spotify = FakeSpotify()
        self.discord = FakeDiscord()
        self.guild_id = random.randrange(10**17, 10**18)
        #: members' Discord ids start here: Mixtape's per-member Hatchet rate limits are
        #: keyed by that id across the whole engine (not per namespace), so every run's
        #: members get ids of their own, not another run's (or a test's) buckets
        self._member_base = random.randrange(10**17, 9 * 10**17)
        self.env: dict[str, str] = {}
        self.db_url = f"sqlite+aiosqlite:///{workdir / 'mixtape.db'}"
        self.key = Fernet.generate_key().decode()
        self.cipher = TokenCipher.from_setting(self.key)
        self.sessions: async_sessionmaker[AsyncSession]
        #: each durable design's live workers, oldest first
        self.workers: dict[str, list[WorkerProcess]] = {}
        self.channel_id = 0

    async def __aenter__(self) -> World:
        self.env = self._exit.enter_context(stack_env())
        os.environ.update({k: v for k, v in self.env.items() if k.startswith("HATCHET_")})
        self._exit.enter_context(self.spotify)
        self._exit.enter_context(self.discord)
        self.spotify.set_latency(self.config.latency)
        self.channel_id = self.discord.add_channel(guild_id=self.guild_id, name="imports")
        await upgrade_to_head(self.db_url)
        self._engine = create_engine(self.db_url)
        self.sessions = make_sessionmaker(self._engine)
        return self

    async def __aexit__(self, *exc: object) -> None:
        for workers in self.workers.values():
            for worker in workers:
                worker.stop()
        await self._engine.dispose()
        await asyncio.to_thread(self._exit.close)

    def limits_on(self) -> None:
        """The fake's rolling rate limit, switched on for the scenarios (not the seeding)."""
        if self.config.rate_limit:
            self.spotify.set_rate_limit(*self.config.rate_limit)

    # ------------------------------------------------------------------ workers

    def worker_env(self, design: str) -> dict[str, str]:
        app = self.spotify.default_app
        return {
            **os.environ,
            **self.env,
            "HATCHET_CLIENT_NAMESPACE": NAMESPACES[design],
            "DATABASE_URL": self.db_url,
            "DISCORD_TOKEN": self.discord.token,
            "DISCORD_API_BASE": self.discord.api_base,
            "SPOTIFY_CLIENT_ID": app.client_id,
            "SPOTIFY_CLIENT_SECRET": app.client_secret,
            "SPOTIFY_API_BASE": self.spotify.api_base,
            "SPOTIFY_ACCOUNTS_BASE": self.spotify.accounts_base,
            "TOKEN_ENCRYPTION_KEYS": self.key,
            "PROGRESS_INTERVAL_SECONDS": "1",
            "SPOTIFY_APP_CALLS_PER_MINUTE": str(self.config.app_calls_per_minute),
            "SPOTIFY_MEMBER_CALLS_PER_MINUTE": str(self.config.member_calls_per_minute),
            "LOG_LEVEL": "WARNING",
        }

    def _live(self, design: str) -> list[WorkerProcess]:
        return [w for w in self.workers.get(design, []) if w.popen and w.popen.poll() is None]

    def worker_groups(self, design: str) -> list[int]:
        """The process groups of the design's workers, while they run."""
        return [w.pid for w in self._live(design)]

    async def replace_worker(self, design: str) -> WorkerProcess:
        """SIGKILL the design's oldest worker and start another, as after a crash."""
        await self.kill_worker(design)
        return await self.start_worker(design)

    async def kill_worker(self, design: str) -> None:
        """SIGKILL the design's oldest worker (its whole process group); none replaces it."""
        worker = self._live(design)[0]
        self.workers[design].remove(worker)
        await asyncio.to_thread(worker.kill)

    async def scale_workers(self, design: str, count: int) -> None:
        """Start or stop (gracefully, newest first) workers until `count` run."""
        live = self._live(design)
        self.workers[design] = live  # forget the dead
        if len(live) < count:
            await asyncio.gather(*(self.start_worker(design) for _ in range(count - len(live))))
        while len(live) > count:
            await asyncio.to_thread(live.pop().stop)

    async def start_worker(self, design: str) -> WorkerProcess:
        """One more worker for `design`, on the same engine (after a kill, the replacement)."""
        module = "workflows" if design == "mixtape" else "bench.per_track"
        n = next(self._ids)
        worker = WorkerProcess(
            env=self.worker_env(design),
            module=module,
            log_path=self.workdir / f"{design}-worker-{n}.log",
        )
        self.workers.setdefault(design, []).append(worker)  # stopped on exit even if it fails
        return await asyncio.to_thread(worker.start)

    # ------------------------------------------------------------------ people and songs

    async def member(self, label: str) -> Member:
        """A new Spotify user, linked in Mixtape's database as a new Discord member."""
        n = next(self._ids)
        spotify_id = f"{label}-{n}"
        self.spotify.add_user(spotify_id, spotify_id)
        grant = self.spotify.issue_token(spotify_id)
        assert grant.refresh_token is not None
        member = Member(self._member_base + n, spotify_id, grant.access_token)
        async with self.sessions.begin() as s:
            await accounts.save_linked_account(
                s,
                self.cipher,
                discord_user_id=member.discord_id,
                spotify_user_id=spotify_id,
                refresh_token=grant.refresh_token,
                scopes=list(SCOPES),
                display_name=spotify_id,
                country="SE",
                access_token=grant.access_token,
                access_token_expires_at=datetime.now(UTC) + timedelta(seconds=grant.expires_in),
            )
        return member

    async def catalog_entry(self, name: str, songs: list[Any], *, with_uris: bool = True) -> int:
        """A shared playlist as the share workflow leaves it; without URIs, as if its songs
        came from another service and must be found by search."""
        provider_id = f"{next(self._ids):022d}"
        async with self.sessions.begin() as s:
            entry = await catalog.upsert_catalog_playlist(
                s,
                guild_id=self.guild_id,
                owner_discord_user_id=1,
                name=name,
                provider_playlist_id=provider_id,
                url=f"https://open.spotify.com/playlist/{provider_id}",
                status=PlaylistStatus.READY,
            )
            await catalog.update_catalog_metadata(s, entry, name=name)
            await catalog.replace_catalog_tracks(
                s,
                entry,
                [
                    TrackData(
                        title=t.name,
                        artists=tuple(a.name for a in t.artists),
                        duration_ms=t.duration_ms,
                        isrc=t.isrc,
                        provider_track_id=t.id if with_uris else None,
                        provider_uri=t.uri if with_uris else None,
                    )
                    for t in songs
                ],
            )
        return entry

    def post_message(self, content: str, channel_id: int | None = None) -> int:
        """The progress message /import posts before it dispatches (in the bench's channel,
        unless another is given)."""
        response = requests.post(
            f"{self.discord.api_base}/channels/{channel_id or self.channel_id}/messages",
            json={"content": content},
            headers={"Authorization": f"Bot {self.discord.token}"},
            timeout=5,
        )
        response.raise_for_status()
        return int(response.json()["id"])

    # ------------------------------------------------------------------ engine figures

    async def app_bucket(self) -> tuple[int, float] | None:
        """The engine's app-wide Spotify bucket (Mixtape's `spotify-app` rate limit, one per
        tenant: not namespaced, so every worker on this engine draws from it): the units
        left and the seconds since its last refill; None before a worker declared it."""
        admin = self.env["MIXTAPE_TEST_PG_URL"]
        url = admin.rsplit("/", 1)[0] + "/hatchet"
        conn = await asyncpg.connect(url, timeout=10)
        try:
            row = await conn.fetchrow(
                'SELECT value, extract(epoch FROM now() - "lastRefill") AS age '
                'FROM "RateLimit" WHERE key = $1 ORDER BY "lastRefill" DESC LIMIT 1',
                SPOTIFY_APP_KEY,
            )
        finally:
            await conn.close()
        return None if row is None else (int(row["value"]), float(row["age"]))

    async def task_runs(self, design: str, since: datetime) -> tuple[int, int]:
        """Task runs the engine created for `design` since then, and their attempts."""
        admin = self.env["MIXTAPE_TEST_PG_URL"]
        url = admin.rsplit("/", 1)[0] + "/hatchet"
        conn = await asyncpg.connect(url, timeout=10)
        try:
            row = await conn.fetchrow(
                "SELECT count(*) AS runs, coalesce(sum(retry_count), 0) AS retries "
                "FROM v1_task WHERE action_id LIKE $1 AND inserted_at >= $2",
                NAMESPACES[design] + "%",
                since,
            )
        finally:
            await conn.close()
        assert row is not None
        return int(row["runs"]), int(row["runs"]) + int(row["retries"])
