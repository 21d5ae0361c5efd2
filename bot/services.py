"""What the cogs need, built once in `__main__` and handed to the bot: no module globals."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.dispatch import WorkflowDispatcher
from mixtape.settings import Settings
from music.spotify import SpotifyAdapter
from storage.crypto import TokenCipher


@dataclass
class BotServices:
    """Settings, database, token cipher, Spotify adapter and the workflow dispatcher."""

    settings: Settings
    sessions: async_sessionmaker[AsyncSession]
    cipher: TokenCipher
    spotify: SpotifyAdapter
    dispatcher: WorkflowDispatcher
