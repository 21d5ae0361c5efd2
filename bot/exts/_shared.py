"""Helpers the feature cogs share: the guild requirement and catalog option lookups."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, cast

import discord
from discord import app_commands
from sqlalchemy.ext.asyncio import AsyncSession

from bot import errors, render
from storage import catalog
from storage.models import CatalogPlaylist

if TYPE_CHECKING:
    from bot.client import MixtapeBot

log = logging.getLogger(__name__)

_MAX_ID = 2**63 - 1  # larger "ids" are names that happen to be digits


def mixtape(interaction: discord.Interaction) -> MixtapeBot:
    """The bot behind an interaction, typed (every interaction here comes from it)."""
    return cast("MixtapeBot", interaction.client)


def require_guild(interaction: discord.Interaction) -> int:
    """The guild id, or the guild-only refusal (the catalog belongs to a server)."""
    if interaction.guild_id is None:
        raise errors.GuildOnly(render.GUILD_ONLY)
    return interaction.guild_id


async def lookup_entry(session: AsyncSession, guild_id: int, raw: str) -> CatalogPlaylist:
    """The entry an option names: a picked suggestion carries the id, typed text a name.

    Only this guild's entries are ever found, whatever id is sent.
    """
    text = raw.strip()
    if text.isdigit() and int(text) <= _MAX_ID:
        entry = await catalog.get_guild_playlist(session, guild_id, int(text))
        if entry is not None:
            return entry
    matches = await catalog.autocomplete_guild_playlists(session, guild_id, text, 5) if text else []
    exact = [m for m in matches if m.name_search == text.casefold()]
    if len(exact) == 1:
        return exact[0]
    if len(matches) == 1:
        return matches[0]
    raise errors.CatalogEntryNotFound(render.PICK_FROM_LIST)


async def catalog_choices(
    interaction: discord.Interaction, current: str
) -> list[app_commands.Choice[str]]:
    """Autocomplete over this guild's catalog: at most 25, value = the catalog id."""
    if interaction.guild_id is None:
        return []
    services = mixtape(interaction).services
    async with services.sessions.begin() as session:
        entries = await catalog.autocomplete_guild_playlists(
            session, interaction.guild_id, current.strip()[:100], 25
        )
    return [
        app_commands.Choice(name=render.choice_name(entry), value=str(entry.id))
        for entry in entries
    ]
