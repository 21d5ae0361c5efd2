"""Helpers the feature cogs share: the guild requirement and how option values name rows.

An option value is either an id or a name, told apart by its shape alone:

- ``#`` followed by ASCII digits (``#12``) is an id. Autocomplete submits exactly that
  for a picked suggestion, and ids are shown that way ("Import #12"). It names the row
  with that id in this guild, or nothing: it is never read as a name, so a stale or
  foreign id is refused instead of acting on whatever name happens to contain its digits.
- Anything else is a name, bare digits included (a playlist may be called "1999"). It
  acts only on a row called exactly that, in any case; otherwise the member is shown a
  short list of close matches, with their ids, to pick from.

Every parser here is total: any text gives a value or a `UserFacingError`.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, cast

import discord
from discord import app_commands
from sqlalchemy.ext.asyncio import AsyncSession

from bot import errors
from storage import catalog
from storage.enums import PlaylistStatus
from storage.models import CatalogPlaylist
from voice import replies

if TYPE_CHECKING:
    from bot.client import MixtapeBot

log = logging.getLogger(__name__)

#: The largest id a row can have (a signed 64-bit integer on both databases).
MAX_ID = 2**63 - 1
#: How many close matches a typed name that matched nothing exactly is shown.
CANDIDATES = 5
#: What autocomplete sends and what counts as an id: `#` and ASCII digits only, since
#: `str.isdigit` and `int` also take `²` and `١٢`, and `int` refuses 4,300+ digits.
_ID_VALUE = re.compile(r"#([0-9]+)", re.ASCII)
_UNKNOWN_ID = 0  # ids start at 1, so no row has it


def mixtape(interaction: discord.Interaction) -> MixtapeBot:
    """The bot behind an interaction, typed (every interaction here comes from it)."""
    return cast("MixtapeBot", interaction.client)


def _per_member(uses: int, seconds: float) -> app_commands.Cooldown | None:
    return app_commands.Cooldown(uses, seconds) if seconds > 0 else None


def share_cooldown(interaction: discord.Interaction) -> app_commands.Cooldown | None:
    """A member's /share budget (settings), so one member cannot flood reads and messages."""
    settings = mixtape(interaction).services.settings
    return _per_member(settings.share_cooldown_uses, settings.share_cooldown_seconds)


def import_cooldown(interaction: discord.Interaction) -> app_commands.Cooldown | None:
    """A member's /import budget (settings)."""
    settings = mixtape(interaction).services.settings
    return _per_member(settings.import_cooldown_uses, settings.import_cooldown_seconds)


def require_guild(interaction: discord.Interaction) -> int:
    """The guild id, or the guild-only refusal (the catalog belongs to a server)."""
    if interaction.guild_id is None:
        raise errors.GuildOnly(replies.GUILD_ONLY)
    return interaction.guild_id


def option_text(raw: str) -> str:
    """Typed text as the databases accept it: without NUL or lone surrogates, trimmed."""
    return raw.encode("utf-8", "ignore").decode("utf-8").replace("\x00", "").strip()


def option_id(row_id: int) -> str:
    """The option value naming a row by id (an autocomplete choice's value)."""
    return f"#{row_id}"


def id_in(text: str) -> int | None:
    """The id an id-shaped value names, or None for a name.

    Ids no row can have (more than 19 digits, past the 64-bit range) come back as 0,
    which matches nothing, so they are refused like any other unknown id.
    """
    match = _ID_VALUE.fullmatch(text)
    if match is None:
        return None
    digits = match.group(1)
    if len(digits) > 19 or int(digits) > MAX_ID:
        return _UNKNOWN_ID
    return int(digits)


async def lookup_entry(session: AsyncSession, guild_id: int, raw: str) -> CatalogPlaylist:
    """The entry an option names (see the module docstring), or a refusal that does nothing.

    Only this guild's entries are ever found, whatever id is sent.
    """
    text = option_text(raw)
    entry_id = id_in(text)
    if entry_id is not None:
        entry = await catalog.get_guild_playlist(session, guild_id, entry_id)
        if entry is None:
            raise errors.CatalogEntryNotFound(replies.PICK_FROM_LIST)
        return entry
    if not text:
        raise errors.CatalogEntryNotFound(replies.PICK_FROM_LIST)
    named = await catalog.find_guild_playlists_named(session, guild_id, text, CANDIDATES)
    if len(named) == 1:
        return named[0]
    if named:
        raise errors.PickOne(replies.entries_named_alike(text, named))
    close = await catalog.autocomplete_guild_playlists(session, guild_id, text, CANDIDATES)
    if close:
        raise errors.PickOne(replies.entries_named_close(text, close))
    raise errors.CatalogEntryNotFound(replies.no_entry_named(text))


async def suggest_entries(
    session: AsyncSession, guild_id: int, current: str, *, ready_only: bool = False
) -> list[CatalogPlaylist]:
    """Autocomplete suggestions: the entry a typed `#id` names first, then names containing
    the text (so an id read off a list of close matches can be picked too)."""
    text = option_text(current)[:100]
    found: list[CatalogPlaylist] = []
    entry_id = id_in(text)
    if entry_id:
        entry = await catalog.get_guild_playlist(session, guild_id, entry_id)
        ready = entry is not None and entry.status is PlaylistStatus.READY
        if entry is not None and (ready or not ready_only):
            found.append(entry)
    named = await catalog.autocomplete_guild_playlists(
        session, guild_id, text, 25, ready_only=ready_only
    )
    found += [entry for entry in named if entry.id != entry_id]
    return found[:25]


async def catalog_choices(
    interaction: discord.Interaction, current: str
) -> list[app_commands.Choice[str]]:
    """Autocomplete over this guild's catalog: at most 25, value = the marked catalog id."""
    if interaction.guild_id is None:
        return []
    async with mixtape(interaction).services.sessions.begin() as session:
        entries = await suggest_entries(session, interaction.guild_id, current)
    return [
        app_commands.Choice(name=replies.choice_name(entry), value=option_id(entry.id))
        for entry in entries
    ]
