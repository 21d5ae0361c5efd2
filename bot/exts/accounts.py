"""`/link`, `/unlink` and `/waitlist`: a member's Spotify connection."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot import views
from bot.client import MixtapeBot
from bot.exts._shared import require_guild
from music.spotify import COUNTRY_SCOPE
from storage import accounts, waitlist
from storage.oauth_states import create_state, purge_expired_states
from voice import replies

log = logging.getLogger(__name__)

#: Discord's limit for a link button's URL; a longer authorize URL goes in the text.
_BUTTON_URL_LIMIT = 512
#: Commands whose outcome the member's country changes (the "won't play" warning).
_COUNTRY_COMMANDS = frozenset({"import"})


class Accounts(commands.Cog):
    """Linking happens in the browser; these commands start it, end it, and show who waits."""

    def __init__(self, bot: MixtapeBot) -> None:
        self.bot = bot
        self.services = bot.services

    @app_commands.command(name="link", description="Connect your Spotify account to Mixtape")
    async def link(self, interaction: discord.Interaction) -> None:
        """A private, single-use link to our page, which names this member before Spotify."""
        user = interaction.user
        ttl = self.services.settings.oauth_state_ttl_seconds
        async with self.services.sessions.begin() as session:
            await purge_expired_states(session)
            account = await accounts.get_account(session, user.id)
            state = await create_state(
                session,
                user.id,
                interaction.guild_id,
                timedelta(seconds=ttl),
                display_name=user.display_name,
                username=user.name,
                guild_name=getattr(interaction.guild, "name", None),
            )
        url = self.bot.oauth_server.link_url(state)
        embed = replies.link_embed(ttl, account.display_name if account else None)
        if len(url) <= _BUTTON_URL_LIMIT:
            await interaction.response.send_message(
                embed=embed, view=views.link_button(url), ephemeral=True
            )
        else:
            await interaction.response.send_message(url, embed=embed, ephemeral=True)

    @commands.Cog.listener()
    async def on_app_command_completion(
        self,
        interaction: discord.Interaction,
        command: app_commands.Command[Any, ..., Any] | app_commands.ContextMenu,
    ) -> None:
        """Once, after /import, ask a member whose grant lacks the country scope to re-link.

        After the command has answered, so the import never waits on it; the grant itself
        still works, only the country warning is missing.
        """
        user_id = interaction.user.id
        if command.qualified_name not in _COUNTRY_COMMANDS:
            return
        async with self.services.sessions.begin() as session:
            ask = await accounts.claim_relink_request(session, user_id, COUNTRY_SCOPE)
        if not ask:
            return
        try:
            await interaction.followup.send(replies.RELINK_FOR_COUNTRY, ephemeral=True)
        except discord.HTTPException as exc:
            log.info("could not ask member %s to link again: %s", user_id, exc)

    @app_commands.command(name="unlink", description="Disconnect Spotify and delete your tokens")
    async def unlink(self, interaction: discord.Interaction) -> None:
        """Delete the stored tokens; Spotify-side access is the member's to revoke."""
        async with self.services.sessions.begin() as session:
            removed = await accounts.unlink_account(session, interaction.user.id)
        await interaction.response.send_message(replies.unlinked(removed), ephemeral=True)

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
            embed=replies.waitlist_embed(entries, total), ephemeral=True
        )


async def setup(bot: commands.Bot) -> None:
    """Extension entry point."""
    assert isinstance(bot, MixtapeBot)
    await bot.add_cog(Accounts(bot))
