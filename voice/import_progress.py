"""What an import's public progress message says, one builder per state, and the words
around it: the owner's notice when it ends or waits long, and the full not-imported list.

States: `queued` and `not_started` (posted by the bot), `running` and `paused` (edited by
the worker), and `finished` for completed, failed and cancelled (the worker writes it; the
bot's `/cancel` writes the cancelled one with the same builder). Every state names the
owner, carries "Import #N" with the commands that act on it, and is stamped with the time
of its last update. A pace and a time left are shown only when they were measured.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

import discord

from storage.enums import ImportStatus, ItemState
from storage.models import Import, ImportItem
from voice.embeds import (
    COLOUR,
    ERROR_COLOUR,
    FIELD_VALUE_LIMIT,
    PAUSED_COLOUR,
    TITLE_LIMIT,
    bar,
    fit,
    web_link,
)
from voice.share_progress import skip_counts
from voice.text import clean, clock, listed, mention, plural, timestamp

#: A pace is shown once this much time of this run was measured, never before.
PACE_AFTER_SECONDS = 30.0
#: Room the not-imported list may take in the summary's description.
_LIST_ROOM = 3000
_UNPLAYABLE_SHOWN = 10


class Outcome(StrEnum):
    """How an import ended."""

    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class View:
    """What every state of the message shows: whose import, which, how far, as of when."""

    import_id: int
    owner_id: int
    name: str
    total: int
    at: datetime
    added: int = 0
    already_present: int = 0
    not_found: int = 0
    failed: int = 0
    url: str | None = None
    country: str | None = None
    unplayable: tuple[str, ...] = ()
    #: Things the member should know about this run (e.g. a new target playlist).
    notes: tuple[str, ...] = ()
    #: Entries the share left out of the catalog, by reason (local files, episodes...).
    share_skips: Mapping[str, int] = field(default_factory=dict)

    @property
    def settled(self) -> int:
        """Tracks with an outcome: added, already there, not found or failed."""
        return self.added + self.already_present + self.not_found + self.failed


def view_of(imp: Import, at: datetime, share_skips: Mapping[str, int] | None = None) -> View:
    """The view of an import as its row counts it (the ledger's cached counts)."""
    return View(
        import_id=imp.id,
        owner_id=imp.discord_user_id,
        name=title(imp),
        total=imp.total,
        at=at,
        added=imp.added,
        already_present=imp.already_present,
        not_found=imp.not_found,
        failed=imp.failed,
        url=imp.target_playlist_url,
        share_skips=share_skips or {},
    )


def title(imp: Import) -> str:
    """An import's playlist name as shown, never empty (the catalog name at import time)."""
    return imp.playlist_name.strip() or f"catalog playlist #{imp.catalog_playlist_id or '?'}"


@dataclass(frozen=True)
class Pace:
    """Tracks this run settled and the seconds it took (a restarted run starts again)."""

    settled: int
    seconds: float


@dataclass(frozen=True)
class Missing:
    """A track the import did not add, and why."""

    position: int
    title: str
    artists: tuple[str, ...]
    reason: str

    def line(self) -> str:
        """`• Title — Artist: reason`, each part escaped and kept short."""
        who = clean(", ".join(self.artists), 60)
        song = clean(self.title, 80, fallback=f"track {self.position + 1}")
        return f"• {song}{f' — {who}' if who else ''}: {clean(self.reason, 80)}"

    def plain(self) -> str:
        """The same, unescaped, for the text file (nothing renders there)."""
        who = ", ".join(self.artists)
        return f"{self.position + 1}. {self.title}{f' — {who}' if who else ''}: {self.reason}"


_STATE_REASON = {
    ItemState.NOT_FOUND: "not found on Spotify",
    ItemState.FAILED: "Spotify refused to add it",
    ItemState.SKIPPED: "removed from the catalog",
}


def missing(item: ImportItem) -> Missing:
    """A ledger row that was not added, as the member reads it."""
    track = item.track
    reason = item.last_error or _STATE_REASON.get(item.state, item.state.value.replace("_", " "))
    return Missing(
        position=item.position,
        title=track.title if track else f"track {item.position + 1}",
        artists=tuple(track.artists) if track else (),
        reason=reason,
    )


# -- the parts every state shares --------------------------------------------------------


def _into(view: View) -> str:
    return f"Into {mention(view.owner_id)}'s Spotify"


def _progress_line(view: View) -> str:
    return f"`{bar(view.settled, view.total)}` {view.settled:,}/{view.total:,}"


def _footer(view: View, *, active: bool) -> str:
    actions = "/cancel or /imports" if active else "/retry or /imports"
    return f"Import #{view.import_id} · {actions}"


def _counts(embed: discord.Embed, view: View) -> None:
    embed.add_field(name="Added", value=f"{view.added:,}")
    embed.add_field(name="Already there", value=f"{view.already_present:,}")
    embed.add_field(name="Not found", value=f"{view.not_found:,}")
    embed.add_field(name="Failed", value=f"{view.failed:,}")


def _notes(embed: discord.Embed, view: View) -> None:
    # Blank notes are dropped: Discord refuses an empty field value (50035 BASE_TYPE_REQUIRED).
    lines = [line for line in (clean(n, 300) for n in view.notes) if line]
    if lines:
        text, _ = listed(lines, FIELD_VALUE_LIMIT)
        embed.add_field(name="Note", value=text, inline=False)


def _unplayable(embed: discord.Embed, view: View) -> None:
    if not (view.unplayable and view.country):
        return
    lines = [f"• {clean(name, 80, fallback='untitled')}" for name in view.unplayable]
    text, _ = listed(lines[:_UNPLAYABLE_SHOWN], FIELD_VALUE_LIMIT - 40)
    if len(lines) > _UNPLAYABLE_SHOWN:
        text += f"\nand {len(lines) - _UNPLAYABLE_SHOWN:,} more"
    embed.add_field(
        name=f"Won't play in {clean(view.country, 8)} ({len(view.unplayable):,})",
        value=text,
        inline=False,
    )


def _embed(view: View, heading: str, description: str, colour: discord.Colour) -> discord.Embed:
    embed = discord.Embed(title=heading, description=description, colour=colour)
    embed.timestamp = view.at
    return embed


def _name(view: View, room: int = 200) -> str:
    return clean(view.name, room, fallback="a playlist")


# -- the states ---------------------------------------------------------------------------


def queued(view: View, *, retrying: int | None = None) -> discord.Embed:
    """As the import starts out (the bot posts it); the state is never cut off the title."""
    what = (
        plural(view.total, "track")
        if retrying is None
        else f"retrying the {plural(retrying, 'track')} not added yet, of {view.total:,}"
    )
    suffix = " — queued"
    heading = f"Importing {_name(view, TITLE_LIMIT - len('Importing ') - len(suffix))}{suffix}"
    embed = _embed(
        view, heading, f"{_into(view)} · {what}. This message shows the progress.", COLOUR
    )
    embed.set_footer(text=_footer(view, active=True))
    return fit(embed)


def not_started(view: View) -> discord.Embed:
    """The bot could not start the workflow."""
    embed = _embed(
        view,
        f"Couldn't import {_name(view)}",
        f"{_into(view)}, but the work could not be started. `/retry` tries again.",
        ERROR_COLOUR,
    )
    embed.set_footer(text=_footer(view, active=False))
    return fit(embed)


def pace(view: View, measured: Pace | None) -> str | None:
    """`40 tracks/min · about 3 min left`, or None until this run has measured a pace."""
    if measured is None or measured.settled <= 0 or measured.seconds < PACE_AFTER_SECONDS:
        return None
    per_minute = measured.settled * 60 / measured.seconds
    rate = f"{per_minute:,.0f} tracks/min" if per_minute >= 1 else "under 1 track/min"
    left = max(view.total - view.settled, 0)
    if left == 0:
        return rate
    minutes = left / per_minute
    if minutes < 1:
        return f"{rate} · under a minute left"
    return f"{rate} · about {plural(math.ceil(minutes), 'min', 'min')} left"


def running(view: View, measured: Pace | None = None) -> discord.Embed:
    """Part way: the bar, the counts, and the pace once it is known."""
    lines = [_into(view), _progress_line(view)]
    if (line := pace(view, measured)) is not None:
        lines.append(line)
    embed = _embed(view, f"Importing {_name(view)}", "\n".join(lines), COLOUR)
    _counts(embed, view)
    _notes(embed, view)
    _unplayable(embed, view)
    embed.set_footer(text=_footer(view, active=True))
    return fit(embed)


def wait_reason(reason: str | None) -> str:
    """Why Spotify asked for a pause, in plain words (its codes are never shown)."""
    code = (reason or "").lower()
    if "quota" in code:
        return "Spotify's request quota for this app is used up for now"
    if "app-wide" in code:
        return "Spotify asked Mixtape to slow down for everyone on this server's app"
    return "Spotify asked Mixtape to slow down"


def paused(view: View, resume_at: datetime, reason: str | None) -> discord.Embed:
    """A long wait: why, and when it goes on."""
    lines = [
        _into(view),
        _progress_line(view),
        f"Paused: {wait_reason(reason)}. Resumes at {clock(resume_at)} ({timestamp(resume_at)}).",
    ]
    embed = _embed(view, f"Importing {_name(view)} — paused", "\n".join(lines), PAUSED_COLOUR)
    _counts(embed, view)
    _notes(embed, view)
    _unplayable(embed, view)
    embed.set_footer(text=_footer(view, active=True))
    return fit(embed)


@dataclass(frozen=True)
class Summary:
    """The final embed, and the full not-imported list when the embed could not hold it."""

    embed: discord.Embed
    full_list: str | None
    filename: str


def finished(
    view: View,
    outcome: Outcome,
    not_imported: Sequence[Missing] = (),
    *,
    error: str | None = None,
    cancelled_by: int | None = None,
) -> Summary:
    """The summary: counts, the playlist's link, and every track not imported with why."""
    link = web_link(view.url)
    lines = [_into(view)]
    if outcome is Outcome.COMPLETED:
        heading, colour = f"Imported {_name(view)}", COLOUR
        if link:
            lines[0] += f" · [Open the playlist in Spotify]({link})"
    elif outcome is Outcome.FAILED:
        heading, colour = f"Import of {_name(view)} stopped", ERROR_COLOUR
        lines.append(f"Stopped: {clean(error, 1000) or 'an error on our side'}")
        lines.append("`/retry` picks up where it stopped.")
    else:
        heading, colour = f"Import of {_name(view)} cancelled", ERROR_COLOUR
        by = f" by {mention(cancelled_by)}" if cancelled_by is not None else ""
        lines.append(
            f"Cancelled{by}. Tracks already added stay in the playlist; `/retry` adds the "
            f"rest. {view.added + view.already_present:,} of {view.total:,} tracks were in it."
        )
        if link:
            lines.append(f"[Open the playlist in Spotify]({link})")
    full_list: str | None = None
    if not_imported:
        shown, held = listed(
            [m.line() for m in not_imported], _LIST_ROOM, more="and {n:,} more (attached)"
        )
        lines += ["", f"**Not imported ({len(not_imported):,})**", shown]
        if held < len(not_imported):
            full_list = not_imported_text(view, not_imported)
    left_out = skip_counts(view.share_skips)
    if left_out:
        lines += ["", f"**Not in the catalog:** {left_out} (left out when shared)."]
    embed = _embed(view, heading, "\n".join(lines), colour)
    _counts(embed, view)
    _notes(embed, view)
    _unplayable(embed, view)
    embed.set_footer(text=_footer(view, active=False))
    return Summary(fit(embed), full_list, f"import-{view.import_id}-not-imported.txt")


def not_imported_text(view: View, not_imported: Sequence[Missing]) -> str:
    """The attached file: every track not imported, one per line, as plain text."""
    header = (
        f"Import #{view.import_id} of {' '.join(view.name.split())}: "
        f"{plural(len(not_imported), 'track')} not imported"
    )
    return "\n".join([header, "", *(m.plain() for m in not_imported)]) + "\n"


# -- telling the owner ----------------------------------------------------------------------


def owner_mentions(owner_id: int) -> discord.AllowedMentions:
    """Only the owner may be pinged: no one else, no role, no @everyone."""
    return discord.AllowedMentions(
        everyone=False, roles=False, users=[discord.Object(owner_id)], replied_user=False
    )


def finished_notice(view: View, outcome: Outcome, not_imported: int) -> str:
    """The one line that pings the owner when the import ends (`not_imported`: how many)."""
    who, name = mention(view.owner_id), _name(view)
    if outcome is Outcome.FAILED:
        return f"{who} your import of **{name}** stopped; `/retry` picks up where it stopped."
    if outcome is Outcome.CANCELLED:
        return f"{who} your import of **{name}** was cancelled; `/retry` adds the rest."
    missed = f", {not_imported:,} not imported (see the summary)" if not_imported else ""
    return f"{who} your import of **{name}** is done: {plural(view.added, 'track')} added{missed}."


def paused_notice(view: View, resume_at: datetime, reason: str | None) -> str:
    """The one line that pings the owner when the import waits long."""
    return (
        f"{mention(view.owner_id)} your import of **{_name(view)}** is paused until "
        f"{clock(resume_at)} ({timestamp(resume_at)}): {wait_reason(reason)}. It goes on by "
        "itself."
    )


def outcome_of(status: ImportStatus) -> Outcome:
    """The outcome a finished import's status names."""
    return {
        ImportStatus.FAILED: Outcome.FAILED,
        ImportStatus.CANCELLED: Outcome.CANCELLED,
    }.get(status, Outcome.COMPLETED)


def follow_update_failed(name: str, import_id: int, error: str | None) -> str:
    """A follower's copy could not get what the playlist gained (a private message)."""
    why = clean(error or "Spotify kept failing.", 1500)
    return (
        f"Your copy of {clean(name, 200)} could not get the songs the playlist gained: "
        f"{why}\n`/retry import:#{import_id}` tries again; `/unfollow` stops these updates."
    )
