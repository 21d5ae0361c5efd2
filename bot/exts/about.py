"""`/about`: what Mixtape is and which commands it offers."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from voice import replies


class About(commands.Cog):
    """Introduces the bot; the entry point for a member who has never used it."""

    @app_commands.command(name="about", description="What Mixtape does and how to use it")
    async def about(self, interaction: discord.Interaction) -> None:
        """The introduction card, privately."""
        await interaction.response.send_message(embed=replies.about_embed(), ephemeral=True)


async def setup(bot: commands.Bot) -> None:
    """Extension entry point."""
    await bot.add_cog(About())
