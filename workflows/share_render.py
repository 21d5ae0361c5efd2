"""What the share's progress message says, from first page to summary."""

from __future__ import annotations

import discord

from mixtape.text import clean, duration

COLOUR = discord.Colour(0x1DB954)
FAILED = discord.Colour.red()
_BAR_WIDTH = 20


def bar(done: int, total: int) -> str:
    filled = _BAR_WIDTH if total <= 0 else min(_BAR_WIDTH, done * _BAR_WIDTH // total)
    return "█" * filled + "░" * (_BAR_WIDTH - filled)


def reading(name: str, done: int, total: int) -> discord.Embed:
    embed = discord.Embed(title=f"Sharing {clean(name, 200)}", colour=COLOUR)
    embed.description = f"`{bar(done, total)}`\nReading tracks {done:,}/{total:,}"
    return embed


def waiting(name: str, seconds: float) -> discord.Embed:
    embed = reading(name, 0, 0)
    embed.description = f"Spotify asked us to slow down; reading again in {seconds:,.0f} s."
    return embed


def summary(
    *,
    name: str,
    owner: str,
    url: str,
    track_count: int,
    duration_ms: int,
    skipped: dict[str, int],
) -> discord.Embed:
    embed = discord.Embed(
        title=clean(name, 256),
        url=url or None,
        colour=COLOUR,
        description="Shared to this server's catalog. Import it with `/import`.",
    )
    embed.add_field(name="Owner", value=clean(owner, 1024) or "unknown")
    embed.add_field(name="Tracks", value=f"{track_count:,}")
    embed.add_field(name="Duration", value=duration(duration_ms))
    if skipped:
        lines = [
            f"{count:,} {reason}{'s' if count != 1 else ''}"
            for reason, count in sorted(skipped.items())
        ]
        embed.add_field(name="Skipped", value="\n".join(lines)[:1024], inline=False)
    return embed


def failed(name: str, reason: str) -> discord.Embed:
    return discord.Embed(
        title=f"Could not share {clean(name, 200)}", colour=FAILED, description=clean(reason, 2000)
    )
