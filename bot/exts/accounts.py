"""`/link`, `/unlink` and `/waitlist`: a member's Spotify connection."""

from __future__ import annotations

from datetime import timedelta

import discord
from discord import app_commands
from discord.ext import commands

from bot import render, views
from bot.client import MixtapeBot
from bot.exts._shared import require_guild
from storage import accounts, waitlist
from storage.oauth_states import create_state, purge_expired_states

#: Discord's limit for a link button's URL; a longer authorize URL goes in the text.
_BUTTON_URL_LIMIT = 512


class Accounts(commands.Cog):
    """Linking happens in the browser; these commands start it, end it, and show who waits."""

    def __init__(self, bot: MixtapeBot) -> None:
        self.bot = bot
        self.services = bot.services

    @app_commands.command(name="link", description="Connect your Spotify account to Mixtape")
    async def link(self, interaction: discord.Interaction) -> None:
        """A private, single-use consent link bound to this member."""
        user = interaction.user
        ttl = self.services.settings.oauth_state_ttl_seconds
        async with self.services.sessions.begin() as session:
            await purge_expired_states(session)
            account = await accounts.get_account(session, user.id)
            state = await create_state(
                session, user.id, interaction.guild_id, timedelta(seconds=ttl)
            )
        url = self.services.spotify.authorize_url(state)
        self.bot.oauth_server.remember_name(user.id, user.display_name)
        embed = render.link_embed(ttl, account.display_name if account else None)
        if len(url) <= _BUTTON_URL_LIMIT:
            await interaction.response.send_message(
                embed=embed, view=views.link_button(url), ephemeral=True
            )
        else:
            await interaction.response.send_message(url, embed=embed, ephemeral=True)

    @app_commands.command(name="unlink", description="Disconnect Spotify and delete your tokens")
    async def unlink(self, interaction: discord.Interaction) -> None:
        """Delete the stored tokens; Spotify-side access is the member's to revoke."""
        async with self.services.sessions.begin() as session:
            removed = await accounts.unlink_account(session, interaction.user.id)
        await interaction.response.send_message(render.unlinked(removed), ephemeral=True)

    @app_commands.command(
        name="waitlist", description="Members waiting for access to the Spotify app"
    )
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.checks.has_permissions(manage_guild=True)
    async def waitlist(self, interaction: discord.Interaction) -> None:
        """Who Spotify's development mode refused, for the admin who can add them."""
        guild_id = require_guild(interaction)
        async with self.services.sessions.begin() as session:
            entries = await waitlist.list_waiting(session, guild_id)
            total = await waitlist.count_waiting(session, guild_id)
        await interaction.response.send_message(
            embed=render.waitlist_embed(entries, total), ephemeral=True
        )


async def setup(bot: commands.Bot) -> None:
    """Extension entry point."""
    assert isinstance(bot, MixtapeBot)
    await bot.add_cog(Accounts(bot))
