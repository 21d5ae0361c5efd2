"""The bot's replies: every answer to a slash command, button or autocomplete.

User-controlled text (playlist names and descriptions, Spotify display names) goes through
`voice.text.clean` before it reaches a reply: markdown and mentions are escaped, so a
playlist called `@everyone **bold** <@123>` shows exactly that and pings nobody, and it is
cut to Discord's limits. Every embed leaves through `voice.embeds.fit`. The public progress
messages are in `voice.import_progress` and `voice.share_progress`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import discord

from storage.enums import ImportStatus, PlaylistStatus
from storage.models import CatalogPlaylist, CatalogTrack, Import, LinkWaitlistEntry
from voice.embeds import (
    CHOICE_NAME_LIMIT,
    COLOUR,
    DESCRIPTION_LIMIT,
    ERROR_COLOUR,
    FIELD_NAME_LIMIT,
    TITLE_LIMIT,
    fit,
    web_link,
)
from voice.import_progress import Missing
from voice.import_progress import title as import_title
from voice.share_progress import change_counts, skip_counts
from voice.text import (
    clean,
    clean_block,
    clock,
    duration,
    listed,
    mention,
    plural,
    timestamp,
    track_length,
    truncate,
)

ABOUT_TEXT = (
    "Mixtape keeps this server's playlists in one catalog and copies any of them into "
    "your own Spotify account."
)


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
    """The `/about` card: what share, catalog and import do, in a few lines."""
    embed = discord.Embed(title="Mixtape", description=ABOUT_TEXT, colour=COLOUR)
    embed.add_field(
        name="Share",
        value="`/link` your Spotify account, then `/share` a playlist you own or "
        "collaborate on: Mixtape reads it into this server's catalog.",
        inline=False,
    )
    embed.add_field(
        name="Catalog",
        value="`/catalog browse` lists what members shared; `/catalog show` lists a "
        "playlist's tracks, and what could not be shared.",
        inline=False,
    )
    embed.add_field(
        name="Import",
        value="`/import` copies a catalog playlist into your Spotify account. Its progress "
        "message shows how far it is, and you are pinged when it is done. `/imports` lists "
        "yours and what they could not add; `/cancel` stops one, `/retry` tries the rest.",
        inline=False,
    )
    embed.add_field(
        name="Follow",
        value="`/import` with `follow`, or `/follow` later, keeps your copy in step: songs "
        "added to the shared playlist are added to your copy; yours stay as you left them. "
        "`/unfollow` stops it.",
        inline=False,
    )
    embed.set_footer(text="Imports survive restarts and rate limits, and never add a song twice.")
    return fit(embed)


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
    entry: CatalogPlaylist,
    tracks: Sequence[CatalogTrack],
    page: PageInfo,
    followers: int = 0,
    server_paused: bool = False,
) -> discord.Embed:
    """One page of `/catalog show` (the first one says how it follows its source)."""
    embed = discord.Embed(title=clean(playlist_title(entry), TITLE_LIMIT), colour=COLOUR)
    lines: list[str] = []
    if page.index == 0:
        if entry.description:
            lines.append(clean_block(entry.description, 500))
        lines.append(catalog_entry_value(entry))
        if web_link(entry.url):
            lines.append(f"<{entry.url}>")
        left_out = skip_counts(entry.skipped or {})
        if left_out and entry.status is PlaylistStatus.READY:
            lines.append(f"Not in the catalog: {left_out} (Mixtape can't import these).")
        if note := following_note(entry, followers, server_paused):
            lines.append(note)
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


# -- following ---------------------------------------------------------------------


def followed(name: str, cron: str, *, remove: bool = False) -> str:
    """The member's follow choice, said back with what it will and will not touch."""
    if remove:
        what = (
            "songs added to it are added to your copy, and songs removed from it leave your "
            "copy (only ones Mixtape added)"
        )
        yours = "Songs you added yourself are never removed."
    else:
        what = "songs added to it are added to your copy"
        yours = (
            "Songs you add or remove yourself stay as you left them (`/follow` with "
            "`remove_gone` also removes what leaves the playlist)."
        )
    return (
        f"Your copy of {name} now follows it: {what} (checked on the schedule `{cron}`, "
        f"UTC). {yours} `/unfollow` stops it."
    )


def unfollowed(name: str) -> str:
    return f"Your copy of {name} no longer follows it; it stays in your Spotify as it is."


def never_imported(name: str) -> str:
    return (
        f"You have not imported {name} yet: `/import` it with `follow` set to True, and "
        "your copy will follow it from the start."
    )


def following_paused_here(cron: str) -> str:
    return (
        "Following is paused in this server: no shared playlist is checked for changes, "
        "and no copy is updated, until a manager runs `/following resume` (the schedule "
        f"is `{cron}`, UTC)."
    )


def following_already_paused(since: datetime) -> str:
    return f"Following was already paused in this server ({discord.utils.format_dt(since, 'R')})."


def following_resumed(cron: str) -> str:
    return (
        "Following resumed: shared playlists are checked for changes again on the schedule "
        f"`{cron}` (UTC), and followers' copies get what they gained."
    )


FOLLOWING_NOT_PAUSED = "Following is not paused in this server."


def following_note(
    entry: CatalogPlaylist, followers: int, server_paused: bool = False
) -> str | None:
    """What `/catalog show` says about following (None: nothing to say yet)."""
    lines: list[str] = []
    if server_paused:
        lines.append("Following is paused in this server by its managers.")
    if entry.follow_paused_reason:
        lines.append(f"Following paused: {entry.follow_paused_reason}.")
    if entry.changed_at is not None:
        stamp = discord.utils.format_dt(entry.changed_at, "R")
        counts = change_counts(
            entry.change_added or 0, entry.change_removed or 0, entry.change_moved or 0
        )
        lines.append(f"Updated {stamp}: {counts}")
    elif entry.checked_at is not None and not entry.follow_paused_reason:
        stamp = discord.utils.format_dt(entry.checked_at, "R")
        lines.append(f"Unchanged when last checked {stamp}")
    if followers == 1:
        lines.append("1 member follows it")
    elif followers:
        lines.append(f"{followers:,} members follow it")
    return "\n".join(lines) or None


PREVIOUS = "Previous"
NEXT = "Next"


def only_invoker_can_page(owner_name: str) -> str:
    """A pager belongs to whoever opened it."""
    return f"Only {clean(owner_name, 100)} can page this. Run `/catalog browse` to get your own."


# -- /import, /imports, /cancel, /retry --------------------------------------------------


def jump_url(guild_id: int, channel_id: int, message_id: int) -> str:
    """A link that scrolls the member to a message (works for any channel the bot posted in)."""
    return f"https://discord.com/channels/{guild_id}/{channel_id}/{message_id}"


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
    missed = imp.not_found + imp.failed
    if imp.status.is_terminal and missed:
        lines.append(f"`/imports import:{imp.id}` lists the {plural(missed, 'track')} not added")
    links = [f"started {timestamp(imp.created_at)}"]
    if web_link(imp.target_playlist_url):
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


def not_imported_page(
    imp: Import, shown: Sequence[Missing], page: PageInfo, skipped: dict[str, int]
) -> discord.Embed:
    """One page of `/imports import:…`: the tracks an import did not add, and why."""
    embed = discord.Embed(
        title=truncate(f"#{imp.id} · {clean(import_title(imp), TITLE_LIMIT)}", TITLE_LIMIT),
        colour=COLOUR,
    )
    lines = [f"**{import_state(imp)}** · {import_counts(imp)}", ""]
    if shown:
        lines.append(f"**Not imported ({page.total:,})**")
        lines.extend(m.line() for m in shown)
    else:
        lines.append("Every track of this import is in the playlist.")
    left_out = skip_counts(skipped)
    if left_out and page.index == 0:
        lines += ["", f"Not in the catalog: {left_out} (left out when shared)."]
    text, _ = listed(lines, DESCRIPTION_LIMIT)
    embed.description = text
    embed.set_footer(text=page.footer("tracks not imported"))
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
