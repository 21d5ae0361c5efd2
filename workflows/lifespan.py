"""Resources the worker's tasks share, built on the worker's own event loop at start-up."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field

import discord
from hatchet_sdk import Context, Hatchet
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mixtape.settings import Settings
from music.spotify import SpotifyAdapter, SpotifyConfig
from storage.crypto import TokenCipher
from storage.engine import create_engine, make_sessionmaker
from storage.migrate import upgrade_to_head
from workflows.rate_limits import declare_rate_limits

log = logging.getLogger(__name__)


@dataclass
class WorkerDeps:
    """What tasks reach through `ctx.lifespan`."""

    settings: Settings
    sessions: async_sessionmaker[AsyncSession]
    cipher: TokenCipher
    spotify: SpotifyAdapter
    discord: discord.http.HTTPClient | None
    hatchet: Hatchet
    #: Progress senders still delivering a finished job's last state (see progress.py).
    background: set[asyncio.Task[None]] = field(default_factory=set)


def deps(ctx: Context) -> WorkerDeps:
    """The typed lifespan of the worker running `ctx`."""
    value = ctx.lifespan
    assert isinstance(value, WorkerDeps), "worker started without its lifespan"
    return value


def spotify_config(settings: Settings) -> SpotifyConfig:
    return SpotifyConfig(
        client_id=settings.spotify_client_id or "",
        client_secret=(
            settings.spotify_client_secret.get_secret_value()
            if settings.spotify_client_secret
            else ""
        ),
        redirect_uri=settings.spotify_redirect_uri,
        api_base=settings.spotify_api_base,
        accounts_base=settings.spotify_accounts_base,
        timeout_seconds=settings.http_timeout_seconds,
        # One thread per task slot: every slot running a Spotify step can make its call.
        threads=settings.worker_slots,
    )


async def discord_rest(settings: Settings) -> discord.http.HTTPClient | None:
    """A REST-only Discord client: the worker edits progress messages, it needs no gateway."""
    if settings.discord_token is None:
        log.warning("DISCORD_TOKEN unset: progress messages will not be edited")
        return None
    if settings.discord_api_base:
        discord.http.Route.BASE = settings.discord_api_base.rstrip("/")
    http = discord.http.HTTPClient(asyncio.get_running_loop(), max_ratelimit_timeout=30.0)
    await http.static_login(settings.discord_token.get_secret_value())
    return http


def make_lifespan(
    hatchet: Hatchet, settings: Settings
) -> Callable[[], AsyncGenerator[WorkerDeps, None]]:
    """The worker lifespan: migrate, declare rate limits, open clients; close them after."""

    async def lifespan() -> AsyncGenerator[WorkerDeps, None]:
        await upgrade_to_head(settings.database_url)
        await declare_rate_limits(hatchet, settings)
        engine = create_engine(settings.database_url)
        spotify = SpotifyAdapter(spotify_config(settings))
        http = await discord_rest(settings)
        worker_deps = WorkerDeps(
            settings=settings,
            sessions=make_sessionmaker(engine),
            cipher=TokenCipher.from_setting(settings.token_encryption_keys),
            spotify=spotify,
            discord=http,
            hatchet=hatchet,
        )
        try:
            yield worker_deps
        finally:
            if worker_deps.background:  # last progress edits: a short, bounded grace
                await asyncio.wait(worker_deps.background, timeout=5.0)
            if http is not None:
                await http.close()
            spotify.close()
            await engine.dispose()

    return lifespan
