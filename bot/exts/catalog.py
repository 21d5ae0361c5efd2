"""`/catalog browse [query]` and `/catalog show playlist:`: this server's shared playlists.

Discord cannot have both a `/catalog` command and a `/catalog` group, so browsing is the
`browse` subcommand: the picker then lists `/catalog browse` and `/catalog show` side by
side, each with its own description and options, instead of one command whose options
change meaning depending on which one is filled in.
"""

from __future__ import annotations

import math

import discord
from discord import app_commands
from discord.ext import commands

from bot import errors
from bot.client import MixtapeBot
from bot.exts._shared import catalog_choices, lookup_entry, option_text, require_guild
from bot.services import BotServices
from bot.views import PageLoader, Pager
from storage import catalog, follows
from voice import replies as render

CATALOG_PAGE_SIZE = 5
TRACKS_PAGE_SIZE = 15


def _pages(total: int, size: int) -> int:
    return max(math.ceil(total / size), 1)


def catalog_loader(services: BotServices, guild_id: int, query: str | None) -> PageLoader:
    """Render page `index` of the guild's catalog (clamped: entries may vanish meanwhile)."""

    async def load(index: int) -> tuple[discord.Embed, render.PageInfo]:
        async with services.sessions.begin() as session:
            total = await catalog.count_guild_catalog(session, guild_id, query=query)
            count = _pages(total, CATALOG_PAGE_SIZE)
            index = min(max(index, 0), count - 1)
            entries = await catalog.list_guild_catalog(
                session,
                guild_id,
                query=query,
                limit=CATALOG_PAGE_SIZE,
                offset=index * CATALOG_PAGE_SIZE,
            )
        page = render.PageInfo(index, count, total)
        return render.catalog_page(entries, page, query), page

    return load


def tracks_loader(services: BotServices, guild_id: int, playlist_id: int) -> PageLoader:
    """Render page `index` of an entry's tracks, re-checking the entry is still shared here."""

    async def load(index: int) -> tuple[discord.Embed, render.PageInfo]:
        async with services.sessions.begin() as session:
            entry = await catalog.get_guild_playlist(session, guild_id, playlist_id)
            if entry is None:
                raise errors.CatalogEntryNotFound(render.PICK_FROM_LIST)
            count = _pages(entry.track_count, TRACKS_PAGE_SIZE)
            index = min(max(index, 0), count - 1)
            tracks = await catalog.list_tracks(
                session, entry.id, limit=TRACKS_PAGE_SIZE, offset=index * TRACKS_PAGE_SIZE
            )
            followers = await follows.count_followers(session, entry.id)
            paused = await follows.guild_paused(session, guild_id) is not None
        page = render.PageInfo(index, count, entry.track_count)
        return render.tracks_page(entry, tracks, page, followers, paused), page

    return load


@app_commands.guild_only()
class Catalog(commands.GroupCog, group_name="catalog", group_description="This server's playlists"):
    """Read-only views of the catalog; pages are read from the database on every press."""

    def __init__(self, bot: MixtapeBot) -> None:
        self.bot = bot
        self.services = bot.services
        super().__init__()

    @app_commands.command(name="browse", description="Browse the playlists shared in this server")
    @app_commands.describe(query="Only playlists whose name contains this")
    async def browse(self, interaction: discord.Interaction, query: str | None = None) -> None:
        """Newest first, 5 per page."""
        guild_id = require_guild(interaction)
        wanted = " ".join(option_text(query or "").split())[:100] or None
        load = catalog_loader(self.services, guild_id, wanted)
        embed, page = await load(0)
        if page.total == 0:
            await interaction.response.send_message(render.catalog_empty(wanted), ephemeral=True)
            return
        await self._send(interaction, "catalog", load, embed, page)

    @app_commands.command(name="show", description="List the tracks of a shared playlist")
    @app_commands.describe(playlist="A playlist from this server's catalog")
    @app_commands.autocomplete(playlist=catalog_choices)
    async def show(self, interaction: discord.Interaction, playlist: str) -> None:
        """15 tracks per page, in playlist order."""
        guild_id = require_guild(interaction)
        async with self.services.sessions.begin() as session:
            entry = await lookup_entry(session, guild_id, playlist)
        load = tracks_loader(self.services, guild_id, entry.id)
        embed, page = await load(0)
        await self._send(interaction, "tracks", load, embed, page)

    async def _send(
        self,
        interaction: discord.Interaction,
        area: str,
        load: PageLoader,
        embed: discord.Embed,
        page: render.PageInfo,
    ) -> None:
        """Post the first page in the channel; buttons only when there is more than one."""
        if page.count <= 1:
            await interaction.response.send_message(embed=embed)
            return
        pager = Pager(
            area=area,
            owner=interaction.user,
            load=load,
            page=page,
            timeout=self.bot.pager_timeout,
        )
        await interaction.response.send_message(embed=embed, view=pager)
        pager.attach(interaction)


async def setup(bot: commands.Bot) -> None:
    """Extension entry point."""
    assert isinstance(bot, MixtapeBot)
    await bot.add_cog(Catalog(bot))
