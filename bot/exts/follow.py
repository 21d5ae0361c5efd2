"""`/follow` and `/unfollow`: a member's copy of a catalog playlist keeps up with it, or not.

The choice is stored on the member's newest import of the entry (`storage.follows`); the
scheduled check (`workflows.follow`) then appends what the source gains to their copy.
"""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot import errors
from bot.client import MixtapeBot
from bot.exts._shared import catalog_choices, lookup_entry, require_guild
from storage import follows
from voice.replies import followed, never_imported, playlist_title, unfollowed


class NeverImported(errors.UserFacingError):
    """/follow of an entry the member has no copy of."""


class Follow(commands.Cog):
    """Stores the member's choice; the work is the scheduled check's."""

    def __init__(self, bot: MixtapeBot) -> None:
        self.services = bot.services

    async def _choose(self, interaction: discord.Interaction, playlist: str, follow: bool) -> str:
        guild_id = require_guild(interaction)
        async with self.services.sessions.begin() as session:
            entry = await lookup_entry(session, guild_id, playlist)
            name = playlist_title(entry)
            chosen = await follows.set_following(session, interaction.user.id, entry.id, follow)
        if chosen is None:
            raise NeverImported(never_imported(name))
        return followed(name, self.services.settings.follow_cron) if follow else unfollowed(name)

    @app_commands.command(
        name="follow", description="Keep your copy of a catalog playlist in step with it"
    )
    @app_commands.describe(playlist="A playlist from this server's catalog you imported")
    @app_commands.autocomplete(playlist=catalog_choices)
    @app_commands.guild_only()
    async def follow(self, interaction: discord.Interaction, playlist: str) -> None:
        text = await self._choose(interaction, playlist, True)
        await interaction.response.send_message(text, ephemeral=True)

    @app_commands.command(name="unfollow", description="Stop updating your copy of a playlist")
    @app_commands.describe(playlist="A playlist from this server's catalog you follow")
    @app_commands.autocomplete(playlist=catalog_choices)
    @app_commands.guild_only()
    async def unfollow(self, interaction: discord.Interaction, playlist: str) -> None:
        text = await self._choose(interaction, playlist, False)
        await interaction.response.send_message(text, ephemeral=True)


async def setup(bot: commands.Bot) -> None:
    """Extension entry point."""
    assert isinstance(bot, MixtapeBot)
    await bot.add_cog(Follow(bot))
