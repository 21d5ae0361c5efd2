"""What the cogs need, built once in `__main__` and handed to the bot: no module globals."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from hatchet_sdk import Hatchet
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.dispatch import WorkflowDispatcher
from mixtape.settings import Settings
from music.spotify import SpotifyAdapter, SpotifyConfig
from storage import key_checks
from storage.crypto import TokenCipher
from storage.engine import create_engine, make_sessionmaker
from storage.migrate import upgrade_to_head


@dataclass
class BotServices:
    """Settings, database, token cipher, Spotify adapter and the workflow dispatcher."""

    settings: Settings
    sessions: async_sessionmaker[AsyncSession]
    cipher: TokenCipher
    spotify: SpotifyAdapter
    dispatcher: WorkflowDispatcher


class ConfigurationError(RuntimeError):
    """A setting the bot cannot start without; the message names it."""


def spotify_config(settings: Settings) -> SpotifyConfig:
    """The adapter's view of the settings; refuses to start without app credentials."""
    if not settings.spotify_client_id or settings.spotify_client_secret is None:
        raise ConfigurationError(
            "SPOTIFY_CLIENT_ID and SPOTIFY_CLIENT_SECRET must be set (Spotify Developer "
            "Dashboard > your app > Settings)"
        )
    return SpotifyConfig(
        client_id=settings.spotify_client_id,
        client_secret=settings.spotify_client_secret.get_secret_value(),
        redirect_uri=settings.spotify_redirect_uri,
        api_base=settings.spotify_api_base,
        accounts_base=settings.spotify_accounts_base,
        timeout_seconds=settings.http_timeout_seconds,
    )


@contextlib.asynccontextmanager
async def open_services(
    settings: Settings, hatchet: Callable[[], Hatchet]
) -> AsyncIterator[BotServices]:
    """Check the settings, migrate the database, build everything on the running loop.

    Settings are checked before anything connects, so a missing one is reported by name;
    encryption keys that cannot read the stored tokens raise KeyCheckFailed.
    """
    cipher = TokenCipher.from_setting(settings.token_encryption_keys)
    config = spotify_config(settings)
    dispatcher = WorkflowDispatcher(hatchet())
    await upgrade_to_head(settings.database_url)
    adapter = SpotifyAdapter(config)
    engine = create_engine(settings.database_url)
    try:
        sessions = make_sessionmaker(engine)
        async with sessions.begin() as session:  # wrong keys: refuse now, not per member
            await key_checks.verify_keys(session, cipher)
        yield BotServices(
            settings=settings,
            sessions=sessions,
            cipher=cipher,
            spotify=adapter,
            dispatcher=dispatcher,
        )
    finally:
        adapter.close()
        await engine.dispose()
