"""What a share's public progress message says, one builder per state: started (posted by
the bot), reading, waiting, summary and failed (edited by the worker); how a re-read's
change and its followers' copies read (edited as they are served); and how share-time
skips (local files, episodes, unavailable songs) read wherever they are mentioned.

Every state names the sharer and carries the time of its last update.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

import discord

from voice.embeds import COLOUR, ERROR_COLOUR, TITLE_LIMIT, bar, fit
from voice.text import clean, clock, duration, mention, plural, timestamp

#: A share-time skip reason (`music.models.SKIP_*`) and how one and many read.
SKIP_WORDS: dict[str, tuple[str, str]] = {
    "local file": ("local file", "local files"),
    "podcast episode": ("podcast episode", "podcast episodes"),
    "unavailable": ("song no longer on Spotify", "songs no longer on Spotify"),
}


def skip_counts(skipped: Mapping[str, int]) -> str:
    """`2 local files, 1 podcast episode` (reasons in a fixed order; zero counts left out)."""
    parts = []
    for reason, count in sorted(skipped.items()):
        if count <= 0:
            continue
        one, many = SKIP_WORDS.get(reason, (clean(reason, 60), clean(reason, 60)))
        parts.append(plural(count, one, many))
    return ", ".join(parts)


def _shared_by(sharer_id: int) -> str:
    return f"Shared by {mention(sharer_id)}"


def _stamp(embed: discord.Embed, at: datetime) -> discord.Embed:
    embed.timestamp = at
    return fit(embed)


def started(name: str, sharer_id: int, at: datetime) -> discord.Embed:
    """The message the bot posts as the share starts; the worker edits it from then on."""
    embed = discord.Embed(
        title=clean(f"Reading {name}…", TITLE_LIMIT),
        description=f"{_shared_by(sharer_id)}. The tracks appear in `/catalog` shortly.",
        colour=COLOUR,
    )
    return _stamp(embed, at)


def not_started(name: str, sharer_id: int, at: datetime) -> discord.Embed:
    """The message, when the bot could not start the share's workflow."""
    embed = discord.Embed(
        title=clean(f"Couldn't share {name}", TITLE_LIMIT),
        description=f"{_shared_by(sharer_id)}, but the work could not be started.",
        colour=ERROR_COLOUR,
    )
    return _stamp(embed, at)


def reading(name: str, sharer_id: int, done: int, total: int, at: datetime) -> discord.Embed:
    """Pages read so far."""
    embed = discord.Embed(title=clean(f"Sharing {name}", TITLE_LIMIT), colour=COLOUR)
    embed.description = (
        f"{_shared_by(sharer_id)}\n`{bar(done, total)}`\nReading tracks {done:,}/{total:,}"
    )
    return _stamp(embed, at)


def waiting(name: str, sharer_id: int, seconds: float, at: datetime) -> discord.Embed:
    """Spotify asked for a pause: when reading goes on, in plain words."""
    until = at + timedelta(seconds=max(seconds, 0.0))
    embed = discord.Embed(title=clean(f"Sharing {name}", TITLE_LIMIT), colour=COLOUR)
    embed.description = (
        f"{_shared_by(sharer_id)}\nSpotify asked Mixtape to slow down: reading goes on at "
        f"{clock(until)} ({timestamp(until)})."
    )
    return _stamp(embed, at)


def summary(
    *,
    name: str,
    sharer_id: int,
    owner: str,
    url: str,
    track_count: int,
    duration_ms: int,
    skipped: Mapping[str, int],
    at: datetime,
    updated: str | None = None,
) -> discord.Embed:
    """The share is in the catalog: its owner on Spotify, size, length and what was left out
    (and, for a re-read, what changed: see `change`)."""
    embed = discord.Embed(
        title=clean(name, TITLE_LIMIT, fallback="Spotify playlist"),
        url=url or None,
        colour=COLOUR,
        description=(
            f"{_shared_by(sharer_id)} to this server's catalog. Import it with `/import`."
        ),
    )
    embed.add_field(name="Owner", value=clean(owner, 200) or "unknown")
    embed.add_field(name="Tracks", value=f"{track_count:,}")
    embed.add_field(name="Duration", value=duration(duration_ms))
    left_out = skip_counts(skipped)
    if left_out:
        embed.add_field(
            name="Not in the catalog",
            value=f"{left_out}: Mixtape can't import these.",
            inline=False,
        )
    if updated:
        embed.add_field(name="Updated", value=updated, inline=False)
    return _stamp(embed, at)


def change(
    added: int,
    removed: int,
    moved: int,
    followers: int | None,
    *,
    updated: int = 0,
    failed: int = 0,
    final: bool = False,
) -> str:
    """What a re-read changed since the last one, and how far its followers' copies got
    (see `served`)."""
    text = change_counts(added, removed, moved)
    if followers:
        text += "; " + served(followers, updated, failed, final=final)
    return text


def served(followers: int, updated: int, failed: int = 0, *, final: bool = False) -> str:
    """The followers' copies of a change: `updating 12 followers' copies` before any is
    done, `3 of 12 followers' copies updated` as they are, `12 followers' copies updated`
    at the end, and `1 could not be updated` without naming anyone (each is told privately).

    `final`: the message will not change again, so the copies not done yet are said to be
    `still on their way`.
    """
    updated, failed = max(updated, 0), max(failed, 0)
    waiting = max(followers - updated - failed, 0)
    copies = "follower's copy" if followers == 1 else "followers' copies"
    if updated == followers:
        return f"{followers:,} {copies} updated"
    if not (updated or failed or final):
        return f"updating {followers:,} {copies}"
    if not (updated or waiting):
        return f"{followers:,} {copies} could not be updated"
    parts = [f"{updated:,} of {followers:,} {copies} updated"]
    if failed:
        parts.append(f"{failed:,} could not be updated")
    if waiting and final:
        parts.append(f"{waiting:,} still on {'its' if waiting == 1 else 'their'} way")
    return ", ".join(parts)


def change_counts(added: int, removed: int, moved: int) -> str:
    """`+3 −1 songs, 2 moved`, or that nothing changed."""
    if not (added or removed or moved):
        return "No song changed since the last read."
    songs = "song" if added + removed == 1 else "songs"
    text = f"+{added:,} \u2212{removed:,} {songs}"
    return text + (f", {moved:,} moved" if moved else "")


def failed(name: str, sharer_id: int, reason: str, at: datetime) -> discord.Embed:
    """The share stopped; `reason` is already written for the member."""
    embed = discord.Embed(
        title=clean(f"Could not share {name}", TITLE_LIMIT),
        colour=ERROR_COLOUR,
        description=f"{_shared_by(sharer_id)}\n{clean(reason, 2000)}",
    )
    return _stamp(embed, at)
