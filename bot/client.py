"""The bot: loads one extension per feature area, serves the OAuth callback, syncs commands."""

from __future__ import annotations

import logging

import discord
from discord.ext import commands

from bot.error_handler import ErrorReportingTree
from bot.oauth_server import OAuthCallbackServer
from bot.services import BotServices

log = logging.getLogger(__name__)

EXTENSIONS = (
    "bot.exts.about",
    "bot.exts.accounts",
    "bot.exts.share",
    "bot.exts.catalog",
    "bot.exts.imports",
)

#: How long a /catalog pager answers presses before it disables its buttons.
DEFAULT_PAGER_TIMEOUT_SECONDS = 10 * 60.0


class MixtapeBot(commands.Bot):
    """Slash commands only: no message content, no prefix commands."""

    def __init__(
        self,
        services: BotServices,
        *,
        sync_commands: bool = True,
        serve_oauth: bool = True,
        pager_timeout: float = DEFAULT_PAGER_TIMEOUT_SECONDS,
    ) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=discord.Intents.none() | discord.Intents(guilds=True),
            allowed_mentions=discord.AllowedMentions.none(),
            help_command=None,
            tree_cls=ErrorReportingTree,
        )
        self.services = services
        self.pager_timeout = pager_timeout
        self.oauth_server = OAuthCallbackServer(services)
        self._serve_oauth = serve_oauth
        self._sync_commands = sync_commands

    async def setup_hook(self) -> None:
        """Extensions first, then the callback server, then the command sync."""
        for extension in EXTENSIONS:
            await self.load_extension(extension)
        if self._serve_oauth:
            await self.oauth_server.start()
        if self._sync_commands:
            synced = await self.tree.sync()
            log.info("synced %d global commands", len(synced))

    async def close(self) -> None:
        """Stop the callback server with the bot."""
        await self.oauth_server.stop()
        await super().close()
