"""Every user-visible string and embed, in one place."""

from __future__ import annotations

import discord

COLOUR = discord.Colour(0x1DB954)

ABOUT_TEXT = (
    "Share your playlists into this server's catalog and import any of them into your own "
    "Spotify account. Every share and import is a durable workflow: it survives restarts and "
    "rate limits, resumes where it stopped, and never adds a track twice."
)


def about_embed() -> discord.Embed:
    """The `/about` card."""
    embed = discord.Embed(title="Mixtape", description=ABOUT_TEXT, colour=COLOUR)
    embed.add_field(name="Get started", value="`/link` your Spotify account, then `/share` a playlist.")
    embed.add_field(name="Browse and import", value="`/catalog`, `/import`, `/imports`")
    return embed
