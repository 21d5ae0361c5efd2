"""The offline world the run command uses without a Discord token: both fakes, seeded, and
the settings that point the real bot and worker at them."""

from __future__ import annotations

import contextlib
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from cryptography.fernet import Fernet

from devtools.stack import free_port
from fakes.discord_api import FakeDiscord
from fakes.spotify import FakeSpotify, Playlist

DEMO_CLIENT_ID = "mixtape-demo"
DEMO_CLIENT_SECRET = "mixtape-demo-secret"  # a fake app's secret, valid only on the fake
SHARER = "dj-ada"  # owns the seeded playlist and shares it
IMPORTER = "bea"  # imports it into her own (empty) account
SOURCE_NAME = "Late Night Drive"
SOURCE_TRACKS = 300


class OfflineWorld:
    """Fake Discord (REST + gateway) and fake Spotify on loopback, with two demo members:
    Ada (`dj-ada`, who owns a 300-track playlist) and Bea (`bea`, whose account is empty)."""

    def __init__(self, workdir: Path, oauth_port: int) -> None:
        self.workdir = workdir
        self.redirect_uri = f"http://127.0.0.1:{oauth_port}/spotify/callback"
        self.oauth_port = oauth_port
        self.worker_health_port = free_port(avoid={oauth_port})
        self.discord = FakeDiscord()
        self.spotify = FakeSpotify()
        self.source: Playlist | None = None

    def __enter__(self) -> OfflineWorld:
        self.discord.start()
        self.spotify.start()
        self.spotify.add_app(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, [self.redirect_uri])
        self.spotify.add_user(SHARER, "Ada")
        self.spotify.add_user(IMPORTER, "Bea")
        self.source = self.spotify.add_playlist(
            SHARER, SOURCE_NAME, self.spotify.generate_tracks(SOURCE_TRACKS, seed=7)
        )
        return self

    def __exit__(self, *exc: object) -> None:
        self.spotify.stop()
        self.discord.stop()

    def env(self) -> dict[str, str]:
        """Settings for the bot and the worker (read by pydantic-settings and the SDK)."""
        return {
            "DISCORD_TOKEN": self.discord.token,
            "DISCORD_API_BASE": self.discord.api_base,
            "DISCORD_GATEWAY_URL": self.discord.gateway.url or "",
            "SPOTIFY_CLIENT_ID": DEMO_CLIENT_ID,
            "SPOTIFY_CLIENT_SECRET": DEMO_CLIENT_SECRET,
            "SPOTIFY_REDIRECT_URI": self.redirect_uri,
            "SPOTIFY_API_BASE": self.spotify.api_base,
            "SPOTIFY_ACCOUNTS_BASE": self.spotify.accounts_base,
            "OAUTH_BIND_PORT": str(self.oauth_port),
            "DATABASE_URL": f"sqlite+aiosqlite:///{self.workdir / 'mixtape.db'}",
            "TOKEN_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            "PROGRESS_INTERVAL_SECONDS": "1",
            "HATCHET_CLIENT_WORKER_HEALTHCHECK_ENABLED": "true",
            "HATCHET_CLIENT_WORKER_HEALTHCHECK_PORT": str(self.worker_health_port),
            "HATCHET_CLIENT_WORKER_HEALTHCHECK_BIND_ADDRESS": "127.0.0.1",
        }

    def wait_until_up(self, children_alive: Callable[[], bool], timeout: float) -> None:
        """The bot is on the gateway with its commands synced and the worker is healthy."""
        deadline = time.monotonic() + timeout
        checks: list[tuple[str, Callable[[], bool]]] = [
            ("the bot to connect to the gateway", lambda: bool(self.discord.gateway_sessions())),
            ("the bot to sync its commands", lambda: bool(self.discord.commands())),
            ("the worker to report healthy", self.worker_healthy),
        ]
        for what, check in checks:
            while not check():
                if not children_alive():
                    raise RuntimeError(f"a process exited while waiting for {what}")
                if time.monotonic() > deadline:
                    raise TimeoutError(f"timed out waiting for {what}")
                time.sleep(0.2)

    def worker_healthy(self) -> bool:
        """The worker's health endpoint answers 200 (it is connected to the engine)."""
        url = f"http://127.0.0.1:{self.worker_health_port}/health"
        with (
            contextlib.suppress(urllib.error.URLError, OSError),
            urllib.request.urlopen(url, timeout=2) as resp,  # noqa: S310
        ):
            return bool(resp.status == 200)
        return False

    def log_tail(self, name: str, lines: int = 30) -> str:
        path = self.workdir / f"{name}.log"
        with contextlib.suppress(OSError):
            return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
        return "(no log)"

    def describe(self, hatchet_api: str) -> str:
        commands = sorted(f"/{c['name']}" for c in self.discord.commands())
        return "\n".join(
            [
                "Mixtape is up (offline demo):",
                f"  bot     connected to the fake Discord gateway; commands: {' '.join(commands)}",
                "  worker  healthy and registered with the Hatchet engine",
                f"  Hatchet API        {hatchet_api}",
                f"  fake Discord API   {self.discord.api_base}",
                f"  fake Spotify API   {self.spotify.api_base}",
                f"  logs               {self.workdir}",
            ]
        )

    def __repr__(self) -> str:
        return f"OfflineWorld({self.workdir})"
