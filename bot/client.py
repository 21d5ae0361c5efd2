"""The bot: loads one extension per feature area and syncs the slash-command tree."""

from __future__ import annotations

import logging

import discord
from discord.ext import commands

log = logging.getLogger(__name__)

EXTENSIONS = ("bot.exts.about",)


class MixtapeBot(commands.Bot):
    """Slash commands only: no message content, no prefix commands."""

    def __init__(self, *, sync_commands: bool = True) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=discord.Intents.none() | discord.Intents(guilds=True),
            allowed_mentions=discord.AllowedMentions.none(),
            help_command=None,
        )
        self._sync_commands = sync_commands

    async def setup_hook(self) -> None:
        for extension in EXTENSIONS:
            await self.load_extension(extension)
        if self._sync_commands:
            synced = await self.tree.sync()
            log.info("synced %d global commands", len(synced))
