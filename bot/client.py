"""The bot: loads one extension per feature area, serves the OAuth callback, syncs commands."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import discord
from discord.ext import commands
from sqlalchemy import text

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
    "bot.exts.follow",
)

#: How long a /catalog pager answers presses before it disables its buttons.
DEFAULT_PAGER_TIMEOUT_SECONDS = 10 * 60.0
#: A health check that waits longer than this for the database reports it unreachable.
HEALTH_DATABASE_TIMEOUT_SECONDS = 3.0


class MixtapeBot(commands.Bot):
    """Slash commands only: no message content, no prefix commands."""

    def __init__(
        self,
        services: BotServices,
        *,
        sync_commands: bool = True,
        serve_oauth: bool = True,
        pager_timeout: float = DEFAULT_PAGER_TIMEOUT_SECONDS,
        **options: Any,
    ) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=discord.Intents.none() | discord.Intents(guilds=True),
            allowed_mentions=discord.AllowedMentions.none(),
            help_command=None,
            tree_cls=ErrorReportingTree,
            **options,
        )
        self.services = services
        self.pager_timeout = pager_timeout
        self.oauth_server = OAuthCallbackServer(services, health=self.health)
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

    def gateway_connected(self) -> bool:
        """READY received and the gateway's websocket open."""
        ws = getattr(self, "ws", None)
        return self.is_ready() and not self.is_closed() and ws is not None and ws.open

    async def database_reachable(self) -> bool:
        """One trivial query answered in time."""
        try:
            async with asyncio.timeout(HEALTH_DATABASE_TIMEOUT_SECONDS):
                async with self.services.sessions() as session:
                    await session.execute(text("SELECT 1"))
        except Exception:  # noqa: BLE001 - any failure means unhealthy, and is logged
            log.warning("health check: the database did not answer", exc_info=True)
            return False
        return True

    async def health(self) -> dict[str, bool]:
        """What /healthz reports: each part, healthy only when all are."""
        return {
            "gateway": self.gateway_connected(),
            "database": await self.database_reachable(),
        }


class ShardedMixtapeBot(MixtapeBot, commands.AutoShardedBot):
    """The same bot over several gateway connections (DISCORD_SHARDS)."""

    def gateway_connected(self) -> bool:
        """READY on every shard and none of their websockets closed."""
        return (
            self.is_ready()
            and not self.is_closed()
            and bool(self.shards)
            and not any(shard.is_closed() for shard in self.shards.values())
        )


def make_bot(services: BotServices) -> MixtapeBot:
    """One gateway connection, or shards when DISCORD_SHARDS is set (`auto` or a number)."""
    shards = services.settings.discord_shards
    if shards is None:
        return MixtapeBot(services)
    count = None if shards == "auto" else shards
    log.info("sharded: %s shards", "Discord's recommended number of" if count is None else count)
    return ShardedMixtapeBot(services, shard_count=count)
