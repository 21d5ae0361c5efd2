"""What an import's progress message says, from first batch to summary."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import discord

from mixtape.text import clean
from workflows.share_render import COLOUR, FAILED, bar

_LIST_LIMIT = 10


@dataclass(frozen=True)
class Progress:
    """The ledger's counts plus how fast they moved."""

    name: str
    total: int
    added: int
    already_present: int
    not_found: int
    failed: int
    per_minute: float
    country: str | None = None
    unplayable: tuple[str, ...] = ()
    #: Things the member should know about this run (e.g. a new target playlist).
    notes: tuple[str, ...] = ()

    @property
    def settled(self) -> int:
        return self.added + self.already_present + self.not_found + self.failed


def _counts(embed: discord.Embed, p: Progress) -> None:
    embed.add_field(name="Added", value=f"{p.added:,}")
    embed.add_field(name="Already there", value=f"{p.already_present:,}")
    embed.add_field(name="Not found", value=f"{p.not_found:,}")
    embed.add_field(name="Failed", value=f"{p.failed:,}")


def _unplayable(embed: discord.Embed, p: Progress) -> None:
    if p.unplayable and p.country:
        lines = [f"• {clean(title, 80)}" for title in p.unplayable[:_LIST_LIMIT]]
        if len(p.unplayable) > _LIST_LIMIT:
            lines.append(f"…and {len(p.unplayable) - _LIST_LIMIT:,} more")
        embed.add_field(
            name=f"Won't play in {clean(p.country, 8)} ({len(p.unplayable):,})",
            value="\n".join(lines)[:1024],
            inline=False,
        )


def _notes(embed: discord.Embed, p: Progress) -> None:
    # Blank notes are dropped: Discord refuses an empty field value (50035 BASE_TYPE_REQUIRED).
    lines = [line for line in (clean(n, 300) for n in p.notes) if line]
    if lines:
        embed.add_field(name="Note", value="\n".join(lines)[:1024], inline=False)


def running(p: Progress) -> discord.Embed:
    embed = discord.Embed(title=f"Importing {clean(p.name, 200)}", colour=COLOUR)
    remaining = max(p.total - p.settled, 0)
    eta = f", about {remaining / p.per_minute:,.0f} min left" if p.per_minute > 0 else ""
    embed.description = (
        f"`{bar(p.settled, p.total)}` {p.settled:,}/{p.total:,}\n"
        f"{p.per_minute:,.0f} tracks/min{eta}"
    )
    _counts(embed, p)
    _notes(embed, p)
    _unplayable(embed, p)
    return embed


def paused(p: Progress, resume_at: datetime, reason: str | None) -> discord.Embed:
    embed = running(p)
    why = f" ({clean(reason, 200)})" if reason else ""
    embed.description = (
        f"Paused: Spotify asked us to wait{why}. Resumes "
        f"{discord.utils.format_dt(resume_at, 'R')} ({discord.utils.format_dt(resume_at, 't')})."
    )
    return embed


def finished(
    p: Progress,
    *,
    url: str | None,
    not_imported: list[tuple[str, str]],
    cancelled: bool = False,
    error: str | None = None,
) -> discord.Embed:
    """The summary: counts, a link to the playlist, and what was not imported and why."""
    if error:
        title, colour = f"Import of {clean(p.name, 200)} stopped", FAILED
    elif cancelled:
        title, colour = f"Import of {clean(p.name, 200)} cancelled", FAILED
    else:
        title, colour = f"Imported {clean(p.name, 200)}", COLOUR
    embed = discord.Embed(title=title, url=url or None, colour=colour)
    embed.description = (
        clean(error, 1000) if error else (f"[Open the playlist in Spotify]({url})" if url else None)
    )
    _counts(embed, p)
    if not_imported:
        lines = [
            f"• {clean(title, 80)}: {clean(reason, 80)}"
            for title, reason in not_imported[:_LIST_LIMIT]
        ]
        if len(not_imported) > _LIST_LIMIT:
            lines.append(f"…and {len(not_imported) - _LIST_LIMIT:,} more (see /imports)")
        embed.add_field(name="Not imported", value="\n".join(lines)[:1024], inline=False)
    _notes(embed, p)
    _unplayable(embed, p)
    return embed
