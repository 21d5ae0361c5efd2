"""`/share` and `/unshare`: putting playlists into this server's catalog and taking them out."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

import discord
import spotipy
from discord import app_commands
from discord.ext import commands
from sqlalchemy.ext.asyncio import AsyncSession

from bot import errors
from bot.client import MixtapeBot
from bot.exts._shared import catalog_choices, lookup_entry, require_guild, share_cooldown
from bot.views import Confirm
from music.errors import Permanent
from music.urls import PlaylistLinkError, PlaylistRef, parse_playlist_link
from spotify_access.calls import NotLinked, call_as_member
from storage import accounts, catalog
from storage.enums import PlaylistStatus
from storage.errors import CatalogFull, ShareInProgress
from storage.models import CatalogPlaylist
from storage.types import utcnow
from voice import replies, share_progress
from workflows.contracts import ShareInput

log = logging.getLogger(__name__)

#: One read, just enough to name the playlist and tell whether the member may read it.
#: Spotify returns `items` only to the owner and collaborators.
PLAYLIST_FIELDS = "id,name,owner(id,display_name),collaborative,items(total)"
NO_MENTIONS = discord.AllowedMentions.none()


class Share(commands.Cog):
    """Validates a share within Discord's deadline, then hands the reading to a workflow."""

    #: How long an /unshare prompt can be answered before its buttons are disabled.
    confirm_timeout: float = 5 * 60.0

    def __init__(self, bot: MixtapeBot) -> None:
        self.services = bot.services

    @app_commands.command(name="share", description="Share one of your Spotify playlists here")
    @app_commands.describe(url="A Spotify playlist link or URI (Share > Copy link to playlist)")
    @app_commands.guild_only()
    @app_commands.checks.dynamic_cooldown(share_cooldown)
    async def share(self, interaction: discord.Interaction, url: str) -> None:
        """Refuse what we can tell locally at once; defer before asking Spotify; claim the
        entry (one live share per playlist) before posting anything public."""
        guild_id = require_guild(interaction)
        try:
            ref = parse_playlist_link(url)
        except PlaylistLinkError as exc:
            raise errors.BadPlaylistLink(str(exc)) from exc
        async with self.services.sessions.begin() as session:
            account = await accounts.get_account(session, interaction.user.id)
            if account is None:
                raise NotLinked(interaction.user.id)
            await self._refuse_live_or_full(session, guild_id, ref.playlist_id)
        await interaction.response.defer(ephemeral=True, thinking=True)
        name = await self._readable_playlist(interaction.user.id, account.spotify_user_id, ref)
        catalog_id = await self._claim(interaction, guild_id, ref, name)
        progress = await self._post_progress(interaction, name)
        if progress is not None:
            async with self.services.sessions.begin() as session:
                await catalog.set_share_message(
                    session, catalog_id, progress.channel.id, progress.id
                )
        await self._dispatch(interaction, guild_id, catalog_id, name, progress)
        await interaction.edit_original_response(
            content=replies.share_ack(name, progress.jump_url if progress else None)
        )

    def _stale_before(self) -> datetime:
        return utcnow() - timedelta(seconds=self.services.settings.share_stale_after_seconds)

    async def _refuse_live_or_full(
        self, session: AsyncSession, guild_id: int, playlist_id: str
    ) -> None:
        """Answer at once, before asking Spotify: already being read, or no room left."""
        entry = await catalog.find_guild_playlist_by_source(session, guild_id, playlist_id)
        if entry is not None and catalog.share_is_live(entry, self._stale_before()):
            raise already_sharing(guild_id, entry)
        limit = self.services.settings.catalog_max_entries_per_guild
        if entry is None and await catalog.count_guild_catalog(session, guild_id) >= limit:
            raise errors.CatalogFull(replies.catalog_full(limit))

    async def _claim(
        self, interaction: discord.Interaction, guild_id: int, ref: PlaylistRef, name: str
    ) -> int:
        """The entry, pending a new read; the database decides between two shares at once."""
        async with self.services.sessions.begin() as session:
            try:
                return await catalog.claim_share(
                    session,
                    guild_id=guild_id,
                    owner_discord_user_id=interaction.user.id,
                    provider_playlist_id=ref.playlist_id,
                    url=ref.url,
                    name=name,
                    stale_before=self._stale_before(),
                    max_entries=self.services.settings.catalog_max_entries_per_guild,
                )
            except CatalogFull as exc:
                raise errors.CatalogFull(replies.catalog_full(exc.limit)) from exc
            except ShareInProgress as exc:
                entry = await catalog.get_guild_playlist(session, guild_id, exc.playlist_id)
                if entry is None:  # unshared meanwhile
                    raise errors.ShareInProgress(replies.already_sharing(name, None)) from exc
                raise already_sharing(guild_id, entry) from exc

    async def _readable_playlist(self, user_id: int, spotify_id: str, ref: PlaylistRef) -> str:
        """The playlist's name, if this member owns or collaborates on it; else a refusal."""

        def read(sp: spotipy.Spotify) -> dict[str, Any]:
            data: dict[str, Any] = sp.playlist(ref.playlist_id, fields=PLAYLIST_FIELDS)
            return data

        try:
            data = await call_as_member(
                self.services.sessions, self.services.cipher, self.services.spotify, user_id, read
            )
        except Permanent as exc:
            if type(exc) is Permanent and exc.status in (400, 403, 404):
                raise errors.PlaylistUnavailable(replies.PLAYLIST_UNAVAILABLE) from exc
            raise
        name = str(data.get("name") or "")
        owner = str((data.get("owner") or {}).get("id") or "")
        member = owner == spotify_id or isinstance(data.get("items"), dict)
        if not member:
            raise errors.NotYourPlaylist(replies.not_your_playlist(name))
        return name

    async def _post_progress(
        self, interaction: discord.Interaction, name: str
    ) -> discord.Message | None:
        """The public message the workflow edits; a channel we can't post in is no failure."""
        channel = interaction.channel
        if not isinstance(channel, discord.abc.Messageable):
            return None
        embed = share_progress.started(name, interaction.user.id, discord.utils.utcnow())
        try:
            return await channel.send(embed=embed, allowed_mentions=NO_MENTIONS)
        except discord.HTTPException as exc:
            log.info("cannot post share progress in channel %s: %s", interaction.channel_id, exc)
            return None

    async def _dispatch(
        self,
        interaction: discord.Interaction,
        guild_id: int,
        catalog_id: int,
        name: str,
        progress: discord.Message | None,
    ) -> None:
        """Start the workflow; if that fails, say so in the catalog and the channel."""
        payload = ShareInput(
            catalog_playlist_id=catalog_id,
            sharer_discord_user_id=interaction.user.id,
            channel_id=interaction.channel_id or 0,
            message_id=progress.id if progress else None,
        )
        try:
            run_id = await self.services.dispatcher.share_playlist(
                payload, guild_id=guild_id, user_id=interaction.user.id
            )
        except Exception:
            async with self.services.sessions.begin() as session:
                await catalog.mark_catalog_status(
                    session, catalog_id, PlaylistStatus.FAILED, error="could not be started"
                )
            if progress is not None:
                embed = share_progress.not_started(
                    name, interaction.user.id, discord.utils.utcnow()
                )
                try:
                    await progress.edit(embed=embed, allowed_mentions=NO_MENTIONS)
                except discord.HTTPException as exc:
                    log.info("cannot update share progress message: %s", exc)
            raise
        log.info("share of catalog entry %s started as run %s", catalog_id, run_id)

    @app_commands.command(
        name="unshare", description="Remove a playlist from this server's catalog"
    )
    @app_commands.describe(playlist="The catalog entry to remove")
    @app_commands.autocomplete(playlist=catalog_choices)
    @app_commands.guild_only()
    async def unshare(self, interaction: discord.Interaction, playlist: str) -> None:
        """Show what would go and ask privately; only the confirm press removes it."""
        guild_id = require_guild(interaction)
        async with self.services.sessions.begin() as session:
            entry = await lookup_entry(session, guild_id, playlist)
        require_may_unshare(interaction, entry)
        entry_id, title = entry.id, replies.playlist_title(entry)

        async def remove(press: discord.Interaction) -> str:
            """The entry as it is at the press: gone already, or still this member's to remove."""
            async with self.services.sessions.begin() as session:
                current = await catalog.get_guild_playlist(session, guild_id, entry_id)
                if current is None:
                    return replies.already_unshared(title)
                require_may_unshare(press, current)
                await catalog.delete_catalog_playlist(session, guild_id, entry_id)
            log.info("catalog entry %s unshared by user %s", entry_id, press.user.id)
            return replies.unshared(title)

        prompt = replies.unshare_prompt(entry)
        view = Confirm(
            area="unshare",
            owner=interaction.user,
            confirm_label=replies.UNSHARE_BUTTON,
            on_confirm=remove,
            cancelled=replies.unshare_kept(title),
            expired=replies.unshare_expired(prompt),
            timeout=self.confirm_timeout,
        )
        await interaction.response.send_message(prompt, view=view, ephemeral=True)
        view.attach(interaction)


def already_sharing(guild_id: int, entry: CatalogPlaylist) -> errors.ShareInProgress:
    """The refusal of a second share, pointing to the first one's progress message."""
    url = None
    if entry.share_channel_id is not None and entry.share_message_id is not None:
        url = replies.jump_url(guild_id, entry.share_channel_id, entry.share_message_id)
    return errors.ShareInProgress(replies.already_sharing(replies.playlist_title(entry), url))


def require_may_unshare(interaction: discord.Interaction, entry: CatalogPlaylist) -> None:
    """The sharer, or a member with Manage Server, may remove an entry."""
    if entry.owner_discord_user_id == interaction.user.id or interaction.permissions.manage_guild:
        return
    raise errors.NotAllowed(replies.unshare_refused(replies.playlist_title(entry)))


async def setup(bot: commands.Bot) -> None:
    """Extension entry point."""
    assert isinstance(bot, MixtapeBot)
    await bot.add_cog(Share(bot))
