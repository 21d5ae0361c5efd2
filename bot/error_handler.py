"""The one place failures become replies.

Expected outcomes (a `UserFacingError`, a check that failed, a member not linked, Spotify
busy) get their own sentence; anything else is logged with its context under a short
reference the member is given, so a report can be matched to the log line. Replies are
ephemeral, sent as the initial response when none was sent yet, else into the deferred
"thinking" message, else as a followup.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

import discord
from discord import app_commands

from bot.errors import UserFacingError
from music.errors import RateLimited, Transient
from spotify_access.calls import LinkExpired, NotLinked, NotRegistered
from voice import replies

log = logging.getLogger(__name__)


def unwrap(error: BaseException) -> BaseException:
    """The exception the handler raised, out of discord.py's wrappers."""
    while isinstance(error, app_commands.CommandInvokeError):
        error = error.original
    return error


def message_for(error: BaseException) -> str | None:
    """The sentence for an expected failure, or None for a bug."""
    match error:
        case UserFacingError():
            return error.message
        case NotLinked():
            return replies.NOT_LINKED
        case LinkExpired():
            return replies.LINK_EXPIRED
        case NotRegistered():
            return replies.NOT_REGISTERED
        case RateLimited():
            return replies.spotify_rate_limited(error.retry_after)
        case Transient():
            return replies.SPOTIFY_DOWN
        case app_commands.MissingPermissions() if "manage_guild" in error.missing_permissions:
            return replies.MISSING_MANAGE_GUILD
        case app_commands.CommandOnCooldown():
            return replies.on_cooldown(error.retry_after)
        case app_commands.NoPrivateMessage():
            return replies.GUILD_ONLY
        case app_commands.CheckFailure():
            return str(error) or replies.MISSING_MANAGE_GUILD
    return None


async def report(interaction: discord.Interaction, error: BaseException) -> None:
    """Tell the member what happened, privately; log what they cannot fix."""
    error = unwrap(error)
    message = message_for(error)
    if message is None:
        reference = secrets.token_hex(4)
        command = interaction.command.qualified_name if interaction.command else None
        data: dict[str, Any] = dict(interaction.data or {})
        log.error(
            "unexpected error (reference %s) in %s by user %s in guild %s channel %s: %r",
            reference,
            command or data.get("custom_id") or interaction.type.name,
            interaction.user.id,
            interaction.guild_id,
            interaction.channel_id,
            error,
            exc_info=error,
        )
        message = replies.unexpected_error(reference)
    if interaction.type is discord.InteractionType.autocomplete:
        return  # autocomplete can only answer choices; the log above is all we can do
    await _reply(interaction, message)


async def _reply(interaction: discord.Interaction, message: str) -> None:
    embed = replies.error_embed(message)
    try:
        if not interaction.response.is_done():
            await interaction.response.send_message(embed=embed, ephemeral=True)
        elif interaction.response.type is discord.InteractionResponseType.deferred_channel_message:
            # Replace the "thinking…" message, which would otherwise spin forever.
            await interaction.edit_original_response(content=None, embed=embed, view=None)
        else:
            await interaction.followup.send(embed=embed, ephemeral=True)
    except discord.HTTPException as exc:
        log.warning("could not tell user %s about an error: %s", interaction.user.id, exc)


class ErrorReportingTree(app_commands.CommandTree[discord.Client]):
    """A command tree whose failures go through `report`."""

    async def on_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        """Every slash-command failure lands here."""
        await report(interaction, error)
