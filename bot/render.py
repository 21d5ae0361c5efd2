"""Every user-visible string and embed, in one place.

User-controlled text (playlist names and descriptions, Spotify display names) goes through
`clean` before it reaches an embed: markdown and mentions are escaped, so a playlist
called `@everyone **bold** <@123>` shows exactly that and pings nobody, and it is cut to
Discord's limits. `fit` then keeps the whole embed inside the 6000-character total.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import discord

from mixtape.text import clean, clean_block, duration, truncate
from storage.enums import ImportStatus, PlaylistStatus
from storage.models import CatalogPlaylist, CatalogTrack, Import, LinkWaitlistEntry

COLOUR = discord.Colour(0x1DB954)
ERROR_COLOUR = discord.Colour(0xE74C3C)

# Discord's limits (https://discord.com/developers/docs/resources/message#embed-object-embed-limits).
TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
FIELD_NAME_LIMIT = 256
FIELD_VALUE_LIMIT = 1024
FOOTER_LIMIT = 2048
EMBED_TOTAL_LIMIT = 6000
FIELD_COUNT_LIMIT = 25
CHOICE_NAME_LIMIT = 100
CONTENT_LIMIT = 2000

ABOUT_TEXT = (
    "Share your playlists into this server's catalog and import any of them into your own "
    "Spotify account. Every share and import is a durable workflow: it survives restarts and "
    "rate limits, resumes where it stopped, and never adds a track twice."
)


def track_length(ms: int) -> str:
    """A song's length as m:ss, or h:mm:ss past an hour."""
    seconds = max(ms, 0) // 1000
    if seconds >= 3600:
        return duration(ms)
    return f"{seconds // 60}:{seconds % 60:02d}"


def mention(user_id: int) -> str:
    """A user mention; it renders as the name and, with allowed_mentions none, never pings."""
    return f"<@{user_id}>"


def timestamp(moment: datetime) -> str:
    """A Discord timestamp each member sees in their own time zone."""
    return discord.utils.format_dt(moment, "R")


def embed_length(embed: discord.Embed) -> int:
    """What Discord counts towards the 6000 total."""
    return len(embed)


def fit(embed: discord.Embed) -> discord.Embed:
    """Hold an embed to Discord's per-field, field-count and total limits."""
    if embed.title:
        embed.title = truncate(embed.title, TITLE_LIMIT)
    if embed.description:
        embed.description = truncate(embed.description, DESCRIPTION_LIMIT)
    while len(embed.fields) > FIELD_COUNT_LIMIT:
        embed.remove_field(-1)
    for index, field in enumerate(list(embed.fields)):
        embed.set_field_at(
            index,
            name=truncate(field.name or "\u200b", FIELD_NAME_LIMIT),
            value=truncate(field.value or "\u200b", FIELD_VALUE_LIMIT),
            inline=bool(field.inline),
        )
    if embed.footer.text:
        embed.set_footer(text=truncate(embed.footer.text, FOOTER_LIMIT))
    excess = len(embed) - EMBED_TOTAL_LIMIT
    if excess > 0 and embed.description:
        keep = max(len(embed.description) - excess, 1)
        embed.description = truncate(embed.description, keep)
    while len(embed) > EMBED_TOTAL_LIMIT and embed.fields:
        embed.remove_field(-1)
    return embed


def playlist_title(entry: CatalogPlaylist) -> str:
    """An entry's name as shown, never empty (it is blank until the share workflow reads it)."""
    return entry.name.strip() or f"Spotify playlist {entry.provider_playlist_id}"


def choice_name(entry: CatalogPlaylist) -> str:
    """An autocomplete label: plain text (Discord shows choices unrendered), 100 chars max."""
    label = " ".join(playlist_title(entry).split())
    if entry.status is not PlaylistStatus.READY:
        label = f"{label} ({status_word(entry.status)})"
    return truncate(label, CHOICE_NAME_LIMIT)


def status_word(status: PlaylistStatus) -> str:
    """How a catalog status reads in a listing."""
    return {
        PlaylistStatus.PENDING: "waiting to be read",
        PlaylistStatus.READING: "being read",
        PlaylistStatus.READY: "ready",
        PlaylistStatus.FAILED: "could not be read",
    }[status]


# -- /about -------------------------------------------------------------------------------


def about_embed() -> discord.Embed:
    """The `/about` card."""
    embed = discord.Embed(title="Mixtape", description=ABOUT_TEXT, colour=COLOUR)
    embed.add_field(
        name="Get started", value="`/link` your Spotify account, then `/share` a playlist."
    )
    embed.add_field(name="Browse and import", value="`/catalog browse`, `/catalog show`")
    return embed


# -- errors -------------------------------------------------------------------------------

GUILD_ONLY = "That works inside a server: the catalog belongs to a server, not to a DM."
MISSING_MANAGE_GUILD = "You need the **Manage Server** permission for that."
NOT_LINKED = "You haven't linked Spotify yet: run `/link` first."
LINK_EXPIRED = "Your Spotify link expired: run `/link` again."
SPOTIFY_DOWN = "Spotify isn't answering right now. Try again in a minute."
NOT_REGISTERED = (
    "Spotify refused your account: this Mixtape's Spotify app is in development mode and "
    "only serves accounts its operator added. Ask a server admin (they can see who is "
    "waiting with `/waitlist`)."
)
PICK_FROM_LIST = (
    "I couldn't find that playlist in this server's catalog (it may have been removed). "
    "Pick one from the list."
)
PICK_BY_NUMBER = "Nothing was done: pick one from the list, or type its number as shown."


def spotify_rate_limited(retry_after: float) -> str:
    """Spotify said wait; say for how long."""
    return f"Spotify asked us to slow down. Try again in about {max(int(retry_after), 1)} s."


def on_cooldown(retry_after: float) -> str:
    """A member over their /share or /import budget; nothing was done."""
    return f"You're doing that too often. Try again in {max(math.ceil(retry_after), 1)} s."


def unexpected_error(reference: str) -> str:
    """The only thing a member sees of a bug; the reference finds it in the logs."""
    return f"Something went wrong on our side (reference `{reference}`). Please try again."


def error_embed(message: str) -> discord.Embed:
    """An ephemeral refusal."""
    return discord.Embed(description=truncate(message, DESCRIPTION_LIMIT), colour=ERROR_COLOUR)


# -- /link, /unlink, /waitlist ------------------------------------------------------------

LINK_BUTTON = "Open Spotify"


def link_embed(ttl_seconds: int, linked_as: str | None) -> discord.Embed:
    """The private /link answer; the URL itself sits on a link button."""
    minutes = max(ttl_seconds // 60, 1)
    lines = [
        "Open the button below: our page names you and this server; continue there to "
        "Spotify and agree to connect Mixtape.",
        f"The link is yours alone (don't forward it), works once and expires in {minutes} minutes.",
    ]
    if linked_as is not None:
        lines.append(
            f"You are linked as **{clean(linked_as, 100)}** now; linking again replaces it."
        )
    embed = discord.Embed(title="Link your Spotify account", colour=COLOUR)
    embed.description = "\n".join(lines)
    return fit(embed)


RELINK_FOR_COUNTRY = (
    "Mixtape now asks Spotify for your account's country, so an import can tell you which "
    "songs won't play where you are. Your link is older than that: run `/link` again "
    "whenever it suits you. Nothing else changes; imports work without it."
)


def unlinked(was_linked: bool) -> str:
    """The private /unlink answer."""
    if not was_linked:
        return "You had no Spotify account linked; nothing to remove."
    return (
        "Unlinked: your Spotify tokens are deleted. To remove Mixtape's access on Spotify's "
        "side too, visit https://www.spotify.com/account/apps/."
    )


def waitlist_embed(entries: Sequence[LinkWaitlistEntry], total: int) -> discord.Embed:
    """Members Spotify refused at /link, for the admin who can add them to the app."""
    embed = discord.Embed(title="Waiting for Spotify access", colour=COLOUR)
    if not entries:
        embed.description = "Nobody from this server is waiting."
        return embed
    embed.description = (
        "Spotify refused these members because the app is in development mode. Add the "
        "email of each member's Spotify account in the Spotify Developer Dashboard > your app "
        "> User Management (at most 5 users), or apply for extended quota; then ask them to "
        "run `/link` again."
    )
    for entry in entries:
        name = clean(entry.display_name, 100, fallback="member")
        embed.add_field(
            name=name,
            value=(
                f"{mention(entry.discord_user_id)} · {entry.attempts} attempt(s) · "
                f"first {timestamp(entry.first_refused_at)}, "
                f"last {timestamp(entry.last_refused_at)}"
            ),
            inline=False,
        )
    if total > len(entries):
        embed.set_footer(text=f"and {total - len(entries)} more")
    return fit(embed)


# -- /share, /unshare ---------------------------------------------------------------------


def share_progress_embed(name: str, sharer_id: int) -> discord.Embed:
    """The public message the share workflow keeps up to date."""
    embed = discord.Embed(
        title=clean(f"Reading {name}…", TITLE_LIMIT),
        description=f"Shared by {mention(sharer_id)}. The tracks appear in `/catalog` shortly.",
        colour=COLOUR,
    )
    return fit(embed)


def share_ack(name: str, progress_url: str | None) -> str:
    """The private confirmation of a share."""
    shown = clean(name, 200)
    if progress_url is None:
        return (
            f"Sharing **{shown}**. I can't post in this channel, so follow it in `/catalog browse`."
        )
    return f"Sharing **{shown}**: progress is posted here: {progress_url}"


def already_sharing(name: str, progress_url: str | None) -> str:
    """A second /share while the first is still being read: nothing new is started."""
    title = clean(name, 200)
    where = (
        f"see its progress message: {progress_url}"
        if progress_url
        else "it shows up in `/catalog` once read"
    )
    return f"**{title}** is already being read: {where}."


def catalog_full(limit: int) -> str:
    """The guild's catalog holds as many playlists as the operator allows."""
    return (
        f"This server's catalog is full ({limit:,} playlists). `/unshare` one that is no "
        "longer needed (its sharer or a member with Manage Server can), then share again."
    )


def share_not_started(name: str, sharer_id: int) -> discord.Embed:
    """The public message, when the workflow could not be started."""
    embed = discord.Embed(
        title=clean(f"Couldn't share {name}", TITLE_LIMIT),
        description=f"Shared by {mention(sharer_id)}, but the work could not be started.",
        colour=ERROR_COLOUR,
    )
    return fit(embed)


def not_your_playlist(name: str) -> str:
    """Spotify lets an app read a playlist only for its owner and collaborators."""
    return (
        f"**{clean(name, 200)}** isn't yours: you can share playlists you own or collaborate "
        "on, because Spotify lets Mixtape read a playlist only with its owner's or a "
        "collaborator's permission."
    )


PLAYLIST_UNAVAILABLE = (
    "That playlist doesn't exist or is private. Check the link, or share it from the "
    "account that owns it."
)


def unshared(name: str) -> str:
    """The private /unshare confirmation."""
    return f"Removed **{clean(name, 200)}** from this server's catalog."


def unshare_refused(name: str) -> str:
    """Only the sharer or a Manage Server member may remove an entry."""
    return (
        f"Only the member who shared **{clean(name, 200)}**, or someone with the "
        "Manage Server permission, can remove it."
    )


def unshare_prompt(entry: CatalogPlaylist) -> str:
    """What /unshare will remove, asked before anything is removed."""
    what = f"shared by {mention(entry.owner_discord_user_id)}"
    if entry.status is PlaylistStatus.READY:
        what += f", {entry.track_count} tracks"
    return (
        f"Remove **{clean(playlist_title(entry), 200)}** (`#{entry.id}`, {what}) from this "
        "server's catalog? Members' imports keep their history and their Spotify playlists."
    )


UNSHARE_BUTTON = "Remove"
CANCEL_BUTTON = "Cancel"


def unshare_kept(name: str) -> str:
    """The member pressed Cancel on the /unshare prompt."""
    return f"Kept **{clean(name, 200)}** in this server's catalog: nothing was removed."


def unshare_expired(prompt: str) -> str:
    """The prompt after nobody answered it in time (its buttons are disabled)."""
    return f"{prompt}\n*No answer in time: nothing was removed. Run `/unshare` again.*"


def already_unshared(name: str) -> str:
    """Confirmed, but the entry was removed meanwhile (by another member or a second press)."""
    return f"**{clean(name, 200)}** was already removed from this server's catalog."


def only_invoker_can_answer(owner_name: str) -> str:
    """A confirmation belongs to whoever asked for it."""
    return f"Only {clean(owner_name, 100)} can answer this."


# -- typed names ----------------------------------------------------------------------------


def _candidate_entry(entry: CatalogPlaylist) -> str:
    line = (
        f"`#{entry.id}` **{clean(playlist_title(entry), 100)}** · shared by "
        f"{mention(entry.owner_discord_user_id)}"
    )
    if entry.status is not PlaylistStatus.READY:
        line += f" · {status_word(entry.status)}"
    return line


def no_entry_named(typed: str) -> str:
    """A typed name that no entry has, nor contains."""
    return (
        f"No playlist in this server's catalog is called “{clean(typed, 100)}”. "
        "Pick one from the list."
    )


def entries_named_close(typed: str, entries: Sequence[CatalogPlaylist]) -> str:
    """No entry is called exactly what was typed; these contain it."""
    lines = [
        f"No playlist in this server's catalog is called “{clean(typed, 100)}”. Did you mean "
        f"one of these? {PICK_BY_NUMBER}",
        *(_candidate_entry(entry) for entry in entries),
    ]
    return "\n".join(lines)


def entries_named_alike(typed: str, entries: Sequence[CatalogPlaylist]) -> str:
    """Several entries are called what was typed (different playlists, one name)."""
    lines = [
        f"Several playlists in this server's catalog are called “{clean(typed, 100)}”. "
        f"{PICK_BY_NUMBER}",
        *(_candidate_entry(entry) for entry in entries),
    ]
    return "\n".join(lines)


def _candidate_import(imp: Import) -> str:
    done = imp.added + imp.already_present
    return (
        f"`#{imp.id}` **{clean(import_title(imp), 100)}** · {import_state(imp)} · "
        f"{done:,}/{imp.total:,}"
    )


def no_import_named(typed: str) -> str:
    """A typed name that none of the member's imports here has, nor contains."""
    return (
        f"No import of yours here is called “{clean(typed, 100)}”. Pick one from the list, "
        "or see `/imports`."
    )


def imports_named_close(typed: str, found: Sequence[Import]) -> str:
    """None of the member's imports is called exactly what was typed; these contain it."""
    lines = [
        f"No import of yours here is called “{clean(typed, 100)}”. Did you mean one of "
        f"these? {PICK_BY_NUMBER}",
        *(_candidate_import(imp) for imp in found),
    ]
    return "\n".join(lines)


def imports_named_alike(typed: str, found: Sequence[Import]) -> str:
    """Several of the member's imports are called what was typed (one playlist, twice)."""
    lines = [
        f"Several of your imports here are called “{clean(typed, 100)}”. {PICK_BY_NUMBER}",
        *(_candidate_import(imp) for imp in found),
    ]
    return "\n".join(lines)


# -- /catalog -----------------------------------------------------------------------------


@dataclass(frozen=True)
class PageInfo:
    """Where a page sits: 0-based index, page count and total items."""

    index: int
    count: int
    total: int

    def footer(self, noun: str) -> str:
        """Page footer, e.g. "Page 2 of 3 · 12 playlists"."""
        return f"Page {self.index + 1} of {max(self.count, 1)} · {self.total} {noun}"


def catalog_empty(query: str | None) -> str:
    """No entries (or none matching)."""
    if query:
        return f"No playlist in this server's catalog matches “{clean(query, 100)}”."
    return "This server's catalog is empty. Share a playlist with `/share`."


def catalog_entry_value(entry: CatalogPlaylist) -> str:
    """One entry's line under its name."""
    parts = [f"shared by {mention(entry.owner_discord_user_id)}"]
    if entry.owner_display_name:
        parts.append(f"by {clean(entry.owner_display_name, 100)} on Spotify")
    if entry.status is PlaylistStatus.READY:
        parts.append(f"{entry.track_count} tracks · {duration(entry.total_duration_ms)}")
    else:
        parts.append(status_word(entry.status))
    return " · ".join(parts)


def catalog_page(
    entries: Sequence[CatalogPlaylist], page: PageInfo, query: str | None
) -> discord.Embed:
    """One page of `/catalog browse`: each entry a field, newest first."""
    title = "Catalog" if not query else clean(f"Catalog: “{query}”", TITLE_LIMIT)
    embed = discord.Embed(title=title, colour=COLOUR)
    for entry in entries:
        embed.add_field(
            name=clean(playlist_title(entry), FIELD_NAME_LIMIT),
            value=catalog_entry_value(entry),
            inline=False,
        )
    embed.set_footer(text=page.footer("playlists"))
    return fit(embed)


def track_line(track: CatalogTrack) -> str:
    """`12. Title — Artist, Artist (3:45)`, each part escaped and kept short."""
    artists = clean(", ".join(track.artists), 80, fallback="unknown artist")
    title = clean(track.title, 100, fallback="untitled")
    return f"`{track.position + 1:>3}.` {title} — {artists} ({track_length(track.duration_ms)})"


def tracks_page(
    entry: CatalogPlaylist, tracks: Sequence[CatalogTrack], page: PageInfo
) -> discord.Embed:
    """One page of `/catalog show`."""
    embed = discord.Embed(title=clean(playlist_title(entry), TITLE_LIMIT), colour=COLOUR)
    lines: list[str] = []
    if page.index == 0:
        if entry.description:
            lines.append(clean_block(entry.description, 500))
        lines.append(catalog_entry_value(entry))
        if entry.url.startswith("https://"):
            lines.append(f"<{entry.url}>")
        lines.append("")
    if tracks:
        lines.extend(track_line(track) for track in tracks)
    elif entry.status is not PlaylistStatus.READY:
        lines.append(f"No tracks yet: this playlist is {status_word(entry.status)}.")
    else:
        lines.append("This playlist has no tracks Mixtape can import.")
    embed.description = "\n".join(lines)
    embed.set_footer(text=page.footer("tracks"))
    return fit(embed)


PREVIOUS = "Previous"
NEXT = "Next"


def only_invoker_can_page(owner_name: str) -> str:
    """A pager belongs to whoever opened it."""
    return f"Only {clean(owner_name, 100)} can page this. Run `/catalog browse` to get your own."


# -- /import, /imports, /cancel, /retry --------------------------------------------------


def jump_url(guild_id: int, channel_id: int, message_id: int) -> str:
    """A link that scrolls the member to a message (works for any channel the bot posted in)."""
    return f"https://discord.com/channels/{guild_id}/{channel_id}/{message_id}"


def clock(moment: datetime) -> str:
    """A Discord time of day, shown in each member's own time zone."""
    return discord.utils.format_dt(moment, "t")


def import_title(imp: Import) -> str:
    """An import's playlist name as shown, never empty (the catalog name at import time)."""
    return imp.playlist_name.strip() or f"catalog playlist #{imp.catalog_playlist_id or '?'}"


def import_state(imp: Import) -> str:
    """queued, running, paused until <time>, completed, failed or cancelled."""
    if imp.status is ImportStatus.PAUSED and imp.resume_at is not None:
        return f"paused until {clock(imp.resume_at)}"
    return imp.status.value


def import_counts(imp: Import) -> str:
    """`12 added · 3 already there · 1 not found · 0 failed, of 20` (the ledger's cache)."""
    return (
        f"{imp.added:,} added · {imp.already_present:,} already there · "
        f"{imp.not_found:,} not found · {imp.failed:,} failed, of {imp.total:,}"
    )


def import_choice_name(imp: Import, owner_name: str | None = None) -> str:
    """An autocomplete label for an import: plain text, 100 chars max, whose if not yours."""
    done = imp.added + imp.already_present
    state = "paused" if imp.status is ImportStatus.PAUSED else imp.status.value
    owner = f" · {truncate(' '.join(owner_name.split()), 30)}" if owner_name else ""
    suffix = f" · {state} · {done}/{imp.total}{owner}"
    name = " ".join(import_title(imp).split())
    return truncate(name, CHOICE_NAME_LIMIT - len(suffix)) + suffix


_QUEUED_PREFIX = "Importing "
_QUEUED_SUFFIX = " — queued"


def _counts_fields(embed: discord.Embed, imp: Import) -> None:
    embed.add_field(name="Added", value=f"{imp.added:,}")
    embed.add_field(name="Already there", value=f"{imp.already_present:,}")
    embed.add_field(name="Not found", value=f"{imp.not_found:,}")
    embed.add_field(name="Failed", value=f"{imp.failed:,}")


def import_queued_embed(
    name: str, owner_id: int, total: int, import_id: int, *, retrying: int | None = None
) -> discord.Embed:
    """The public message the import workflow keeps up to date, as it starts out.

    The name is cut before the suffix, so a long name never hides the state.
    """
    room = TITLE_LIMIT - len(_QUEUED_PREFIX) - len(_QUEUED_SUFFIX)
    what = (
        f"{total:,} tracks"
        if retrying is None
        else f"retrying the {retrying:,} tracks not added yet, of {total:,}"
    )
    embed = discord.Embed(
        title=f"{_QUEUED_PREFIX}{clean(name, room, fallback='a playlist')}{_QUEUED_SUFFIX}",
        description=(
            f"Into {mention(owner_id)}'s Spotify · {what}. This message shows the progress."
        ),
        colour=COLOUR,
    )
    embed.set_footer(text=f"Import #{import_id} · /cancel or /imports")
    return fit(embed)


def import_not_started(name: str, owner_id: int, import_id: int) -> discord.Embed:
    """The public message, when the workflow could not be started."""
    embed = discord.Embed(
        title=clean(f"Couldn't import {name}", TITLE_LIMIT),
        description=(
            f"Into {mention(owner_id)}'s Spotify, but the work could not be started. "
            "`/retry` tries again."
        ),
        colour=ERROR_COLOUR,
    )
    embed.set_footer(text=f"Import #{import_id}")
    return fit(embed)


def import_cancelled_embed(imp: Import, cancelled_by: int) -> discord.Embed:
    """The public message after /cancel: the counts at the moment it stopped."""
    embed = discord.Embed(
        title=clean(f"Import of {import_title(imp)} cancelled", TITLE_LIMIT),
        description=(
            f"Cancelled by {mention(cancelled_by)}. Tracks already added stay in the "
            f"playlist; `/retry` adds the rest. {imp.added + imp.already_present:,} of "
            f"{imp.total:,} tracks were in it."
        ),
        url=imp.target_playlist_url if _is_web_link(imp.target_playlist_url) else None,
        colour=ERROR_COLOUR,
    )
    _counts_fields(embed, imp)
    embed.set_footer(text=f"Import #{imp.id}")
    return fit(embed)


def _is_web_link(url: str | None) -> bool:
    """Only plain https links go into markdown (a `)` or space would break out of it)."""
    return url is not None and url.startswith("https://") and not any(c in url for c in " )>")


def import_ack(name: str, progress_url: str | None) -> str:
    """The private confirmation of an import (or its retry)."""
    shown = clean(name, 200)
    if progress_url is None:
        return (
            f"Importing **{shown}** into your Spotify. I can't post in this channel, so "
            "follow it with `/imports`."
        )
    return f"Importing **{shown}** into your Spotify: progress is posted here: {progress_url}"


def retry_ack(name: str, requeued: int, progress_url: str | None) -> str:
    """The private confirmation of a retry."""
    shown = clean(name, 200)
    where = (
        f"progress is posted here: {progress_url}"
        if progress_url is not None
        else "follow it with `/imports`"
    )
    return f"Retrying **{shown}**: {requeued:,} tracks not added yet will be tried again; {where}"


def import_entry_value(imp: Import, guild_id: int) -> str:
    """One import in `/imports`: state, counts, and the links that exist."""
    lines = [f"**{import_state(imp)}** · {import_counts(imp)}"]
    if imp.status is ImportStatus.FAILED and imp.error:
        lines.append(f"Stopped: {clean(imp.error, 200)}")
    links = [f"started {timestamp(imp.created_at)}"]
    if _is_web_link(imp.target_playlist_url):
        links.append(f"[playlist]({imp.target_playlist_url})")
    if imp.message_id is not None:
        links.append(f"[progress]({jump_url(guild_id, imp.channel_id, imp.message_id)})")
    lines.append(" · ".join(links))
    return "\n".join(lines)


def imports_page(
    entries: Sequence[Import], page: PageInfo, guild_id: int, *, capped: bool
) -> discord.Embed:
    """One page of `/imports`: the member's imports in this server, newest first."""
    embed = discord.Embed(title="Your imports", colour=COLOUR)
    for imp in entries:
        embed.add_field(
            name=truncate(
                f"#{imp.id} · {clean(import_title(imp), FIELD_NAME_LIMIT)}", FIELD_NAME_LIMIT
            ),
            value=import_entry_value(imp, guild_id),
            inline=False,
        )
    embed.set_footer(text=page.footer("most recent imports" if capped else "imports"))
    return fit(embed)


NO_IMPORTS = "You haven't imported anything in this server yet. Start with `/import`."
PICK_IMPORT = "I couldn't find that import in this server. Pick one from the list."


def import_needs_link() -> str:
    """Importing writes into the member's own Spotify account, so that account comes first."""
    return (
        "Importing adds the songs to a playlist in your own Spotify account, so link it "
        "first: run `/link`, then `/import` again."
    )


def not_importable(entry: CatalogPlaylist) -> str:
    """The entry exists but has no tracks to import (yet)."""
    title = clean(playlist_title(entry), 200)
    if entry.status is PlaylistStatus.FAILED:
        return (
            f"**{title}** can't be imported: it could not be read. Ask whoever shared it to "
            "`/share` it again."
        )
    return (
        f"**{title}** isn't ready to import yet: it is {status_word(entry.status)}. Try again "
        "once `/catalog show` lists its tracks."
    )


def already_importing(name: str) -> str:
    """One import of a playlist per member at a time."""
    return f"You're already importing **{clean(name, 200)}** — see `/imports`."


def import_action_refused(name: str, action: str) -> str:
    """Only the importer or a Manage Server member may cancel or retry an import."""
    return (
        f"Only the member who started importing **{clean(name, 200)}**, or someone with the "
        f"Manage Server permission, can {action} it."
    )


def cancelled_retry_refused(imp: Import) -> str:
    """A cancelled import writes into its owner's Spotify again only if they choose to."""
    return (
        f"Only the member who started importing **{clean(import_title(imp), 200)}** can "
        "retry it: they cancelled it."
    )


def already_finished(imp: Import) -> str:
    """A cancel that came too late (one conditional update decided it)."""
    if imp.status is ImportStatus.CANCELLED:
        return (
            f"The import of **{clean(import_title(imp), 200)}** is already cancelled: there "
            "is nothing to cancel."
        )
    return (
        f"The import of **{clean(import_title(imp), 200)}** already finished "
        f"({imp.status.value}): there is nothing to cancel."
    )


def cancelled(imp: Import) -> str:
    """The private /cancel confirmation."""
    return (
        f"Cancelled the import of **{clean(import_title(imp), 200)}**. Tracks already added "
        "stay in the playlist; `/retry` adds the rest."
    )


def still_running(imp: Import) -> str:
    """Only a finished import can be retried."""
    return (
        f"The import of **{clean(import_title(imp), 200)}** is still {imp.status.value}: "
        "wait for it to finish, or `/cancel` it first."
    )


def too_old_to_retry(imp: Import) -> str:
    """The retention period removed the import's per-track record: nothing to retry from."""
    return (
        f"The import of **{clean(import_title(imp), 200)}** is too old to retry: import it "
        "again with `/import` (songs already in your playlist are not added twice)."
    )


def nothing_to_retry(imp: Import) -> str:
    """Every track is in the playlist already (or could never be imported)."""
    return (
        f"Nothing left to retry in **{clean(import_title(imp), 200)}**: every track that can "
        "be imported is in the playlist."
    )


# -- the OAuth callback pages ------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    """A small HTML page for the browser that comes back from Spotify."""

    status: int
    title: str
    paragraphs: tuple[str, ...]

    def html(self) -> str:
        """The document; every piece of text is HTML-escaped here."""
        body = "".join(f"<p>{html.escape(p, quote=False)}</p>" for p in self.paragraphs)
        title = html.escape(self.title, quote=False)
        return (
            "<!doctype html><html lang=en><head><meta charset=utf-8>"
            '<meta name=viewport content="width=device-width, initial-scale=1">'
            f"<title>Mixtape: {title}</title>"
            "<style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;"
            "padding:0 1rem;line-height:1.5}</style></head>"
            f"<body><h1>{title}</h1>{body}</body></html>"
        )


RUN_LINK_AGAIN = "Run /link in Discord again to get a fresh link."


def page_linked(display_name: str) -> Page:
    """Success."""
    return Page(200, "Spotify linked", (f"Linked as {display_name}. You can close this tab.",))


def page_denied() -> Page:
    """The member pressed Cancel on Spotify's consent page."""
    return Page(
        200,
        "Not linked",
        (
            "You didn't allow Mixtape to use your Spotify account, so nothing changed.",
            "If that was a mistake, run /link in Discord again.",
        ),
    )


def page_spotify_error(error: str) -> Page:
    """Spotify sent us back with an error other than a refusal."""
    return Page(400, "Not linked", (f"Spotify reported an error: {error}.", RUN_LINK_AGAIN))


def page_missing_state() -> Page:
    """A callback without `state` did not come from a /link we issued."""
    return Page(
        400,
        "Link not recognised",
        (
            "This address is missing the part that ties it to your /link, so nothing changed.",
            RUN_LINK_AGAIN,
        ),
    )


def page_unknown_state() -> Page:
    """A state we never issued (another install, a typo, a forgery)."""
    return Page(
        400,
        "Link not recognised",
        ("This link wasn't issued by this Mixtape, so nothing changed.", RUN_LINK_AGAIN),
    )


def page_expired_state(ttl_seconds: int) -> Page:
    """A state past its lifetime."""
    return Page(
        400,
        "Link expired",
        (
            f"/link links work for {max(ttl_seconds // 60, 1)} minutes and this one ran out, "
            "so nothing changed.",
            RUN_LINK_AGAIN,
        ),
    )


def page_used_state() -> Page:
    """A replayed state (reload, back button, or someone else reusing it)."""
    return Page(
        400,
        "Link already used",
        (
            "Each /link link works once, and this one was already used, so nothing changed.",
            RUN_LINK_AGAIN,
        ),
    )


def page_missing_code() -> Page:
    """Spotify sent neither a code nor an error."""
    return Page(400, "Not linked", ("Spotify didn't send an authorization code.", RUN_LINK_AGAIN))


def page_code_refused() -> Page:
    """The code was refused by Spotify (expired or already exchanged)."""
    return Page(
        400,
        "Not linked",
        ("Spotify didn't accept this sign-in any more (it may have expired).", RUN_LINK_AGAIN),
    )


def page_spotify_down() -> Page:
    """Spotify did not answer during the exchange."""
    return Page(
        502,
        "Spotify isn't answering",
        (
            "Spotify didn't answer while we finished linking, so nothing changed.",
            "Wait a minute, then run /link in Discord again.",
        ),
    )


def page_not_registered() -> Page:
    """Development mode: only accounts the app's owner added may use it."""
    return Page(
        403,
        "Spotify refused this account",
        (
            "This Mixtape's Spotify app is in development mode. In that mode Spotify serves "
            "only the accounts (at most 5) that the app's owner added by hand, and yours isn't "
            "one of them yet, so nothing was linked.",
            "What the server's operator must do: open the Spotify Developer Dashboard, pick "
            "the app, go to User Management and add the email address of your Spotify "
            "account, or apply for extended quota so that everyone can link.",
            "You are on the waiting list the server's admins see with /waitlist. Once you "
            "are added, run /link in Discord again.",
        ),
    )


def page_unexpected(reference: str) -> Page:
    """A bug; the reference finds it in the logs."""
    return Page(
        500,
        "Something went wrong",
        (
            f"Something went wrong on our side (reference {reference}). Nothing was linked.",
            RUN_LINK_AGAIN,
        ),
    )
