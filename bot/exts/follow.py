"""`/follow` and `/unfollow`: a member's copy of a catalog playlist keeps up with it, or not;
`/following pause|resume`: a server's managers stop and restart following for the server.

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
from voice import replies
from voice.replies import followed, never_imported, playlist_title, unfollowed


class NeverImported(errors.UserFacingError):
    """/follow of an entry the member has no copy of."""


class Follow(commands.Cog):
    """Stores the member's choice; the work is the scheduled check's."""

    def __init__(self, bot: MixtapeBot) -> None:
        self.services = bot.services

    async def _choose(
        self, interaction: discord.Interaction, playlist: str, follow: bool, remove: bool = False
    ) -> str:
        guild_id = require_guild(interaction)
        async with self.services.sessions.begin() as session:
            entry = await lookup_entry(session, guild_id, playlist)
            name = playlist_title(entry)
            chosen = await follows.set_following(
                session, interaction.user.id, entry.id, follow, remove=remove
            )
        if chosen is None:
            raise NeverImported(never_imported(name))
        if not follow:
            return unfollowed(name)
        return followed(name, self.services.settings.follow_cron, remove=remove)

    @app_commands.command(
        name="follow", description="Keep your copy of a catalog playlist in step with it"
    )
    @app_commands.describe(
        playlist="A playlist from this server's catalog you imported",
        remove_gone="Also remove songs that leave the playlist (only ones Mixtape added)",
    )
    @app_commands.autocomplete(playlist=catalog_choices)
    @app_commands.guild_only()
    async def follow(
        self, interaction: discord.Interaction, playlist: str, remove_gone: bool = False
    ) -> None:
        text = await self._choose(interaction, playlist, True, remove_gone)
        await interaction.response.send_message(text, ephemeral=True)

    @app_commands.command(name="unfollow", description="Stop updating your copy of a playlist")
    @app_commands.describe(playlist="A playlist from this server's catalog you follow")
    @app_commands.autocomplete(playlist=catalog_choices)
    @app_commands.guild_only()
    async def unfollow(self, interaction: discord.Interaction, playlist: str) -> None:
        text = await self._choose(interaction, playlist, False)
        await interaction.response.send_message(text, ephemeral=True)


@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
class Following(
    commands.GroupCog,
    group_name="following",
    group_description="Pause or resume following for this server (managers)",
):
    """The operator's switch for a server: no entry of a paused server is checked."""

    def __init__(self, bot: MixtapeBot) -> None:
        self.services = bot.services
        super().__init__()

    @app_commands.command(name="pause", description="Stop checking this server's playlists")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def pause(self, interaction: discord.Interaction) -> None:
        guild_id = require_guild(interaction)
        async with self.services.sessions.begin() as session:
            paused = await follows.pause_guild(session, guild_id, interaction.user.id)
            current = await follows.guild_paused(session, guild_id)
        cron = self.services.settings.follow_cron
        if paused or current is None:
            text = replies.following_paused_here(cron)
        else:
            text = replies.following_already_paused(current.paused_at)
        await interaction.response.send_message(text, ephemeral=True)

    @app_commands.command(name="resume", description="Check this server's playlists again")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def resume(self, interaction: discord.Interaction) -> None:
        guild_id = require_guild(interaction)
        async with self.services.sessions.begin() as session:
            resumed = await follows.resume_guild(session, guild_id)
        text = (
            replies.following_resumed(self.services.settings.follow_cron)
            if resumed
            else replies.FOLLOWING_NOT_PAUSED
        )
        await interaction.response.send_message(text, ephemeral=True)


async def setup(bot: commands.Bot) -> None:
    """Extension entry point."""
    assert isinstance(bot, MixtapeBot)
    await bot.add_cog(Follow(bot))
    await bot.add_cog(Following(bot))
