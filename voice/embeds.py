"""Discord's embed limits, Mixtape's colours, and `fit`: the one way an embed goes out.

Every embed a member sees, the bot's replies and the worker's progress messages alike, is
built in this package and passed through `fit` before it is returned, so no builder slices
a field by hand and none can be refused by Discord for its size
(https://discord.com/developers/docs/resources/message#embed-object-embed-limits).
"""

from __future__ import annotations

import discord

from voice.text import truncate

COLOUR = discord.Colour(0x1DB954)
ERROR_COLOUR = discord.Colour(0xE74C3C)
PAUSED_COLOUR = discord.Colour(0xF1C40F)

TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
FIELD_COUNT_LIMIT = 25
FIELD_NAME_LIMIT = 256
FIELD_VALUE_LIMIT = 1024
FOOTER_LIMIT = 2048
AUTHOR_LIMIT = 256
EMBED_TOTAL_LIMIT = 6000
CHOICE_NAME_LIMIT = 100
CONTENT_LIMIT = 2000

_BAR_WIDTH = 20
_BLANK = "\u200b"  # Discord refuses an empty field name or value


def web_link(url: str | None) -> str | None:
    """The URL if it is a plain https link, else None (a `)` or space breaks markdown out)."""
    if url and url.startswith("https://") and not any(c in url for c in " )>\n"):
        return url
    return None


def bar(done: int, total: int) -> str:
    """A 20-cell progress bar; full when there is nothing to do."""
    filled = _BAR_WIDTH if total <= 0 else max(0, min(_BAR_WIDTH, done * _BAR_WIDTH // total))
    return "█" * filled + "░" * (_BAR_WIDTH - filled)


def fit(embed: discord.Embed) -> discord.Embed:
    """Hold an embed to every Discord limit, in place; returns it.

    Per part: title, description, each field's name and value, footer, author name; then
    at most 25 fields; then the 6000-character total, by shortening the description and
    then dropping fields from the end. Links that are not plain https are dropped.
    """
    if embed.title:
        embed.title = truncate(embed.title, TITLE_LIMIT)
    if embed.description:
        embed.description = truncate(embed.description, DESCRIPTION_LIMIT)
    embed.url = web_link(embed.url)
    while len(embed.fields) > FIELD_COUNT_LIMIT:
        embed.remove_field(-1)
    for index, field in enumerate(list(embed.fields)):
        embed.set_field_at(
            index,
            name=truncate(field.name or _BLANK, FIELD_NAME_LIMIT),
            value=truncate(field.value or _BLANK, FIELD_VALUE_LIMIT),
            inline=bool(field.inline),
        )
    if embed.footer.text:
        embed.set_footer(text=truncate(embed.footer.text, FOOTER_LIMIT))
    if embed.author.name:
        embed.set_author(
            name=truncate(embed.author.name, AUTHOR_LIMIT),
            url=web_link(embed.author.url),
            icon_url=embed.author.icon_url,
        )
    excess = len(embed) - EMBED_TOTAL_LIMIT
    if excess > 0 and embed.description:
        keep = max(len(embed.description) - excess, 1)
        embed.description = truncate(embed.description, keep)
    while len(embed) > EMBED_TOTAL_LIMIT and embed.fields:
        embed.remove_field(-1)
    return embed
