"""Discord-safe text: user-controlled strings escaped and cut, counts, times and lists.

Shared by the bot's replies and the worker's progress messages, so a playlist called
`@everyone **bold** <@123> https://evil.example` reads the same, pings nobody and links
nowhere, wherever it appears; a count reads "1 song", "2 songs"; a list that does not fit
ends with "and N more" after its last whole line.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime

import discord

ELLIPSIS = "…"

# Mention-like tokens (<@id>, <@!id>, <@&id>, <#id>, </cmd:id>, <t:..>, <:emoji:id>).
_MENTION_TOKEN = re.compile(r"<(?=[@#/:]|a:|t:)")
_LINE_MARKUP = re.compile(r"^(\s*)(#{1,3} |-# |>|[-*+] |\d+\. )", re.MULTILINE)
# A scheme and `:/` (https://…, steam://…, <mailto:/…>): what Discord makes a link of.
_LINK_SCHEME = re.compile(r"\b([A-Za-z][A-Za-z0-9+.-]*):(?=/)")


def truncate(text: str, limit: int) -> str:
    """At most `limit` characters, marking a cut with an ellipsis (never mid-escape)."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    # A trailing backslash would escape the ellipsis; drop an odd run of them.
    trailing = len(cut) - len(cut.rstrip("\\"))
    if trailing % 2:
        cut = cut[:-1]
    return cut + ELLIPSIS


def escape(text: str) -> str:
    """Markdown, mentions and links neutralised: the text reads as typed, pings nobody, and
    a URL in it (a playlist description, a display name) is shown, never clickable, since
    anyone can write one there."""
    escaped = discord.utils.escape_markdown(text, ignore_links=False)
    escaped = discord.utils.escape_mentions(escaped)
    escaped = _LINK_SCHEME.sub("\\1:\u200b", escaped)
    return _MENTION_TOKEN.sub("<\u200b", escaped)


def clean(text: str | None, limit: int, *, fallback: str = "") -> str:
    """One line of user text, escaped and cut to `limit` (for titles, names, fields)."""
    flat = " ".join((text or "").split()) or fallback
    return truncate(escape(flat), limit)


def clean_block(text: str | None, limit: int) -> str:
    """Several lines of user text: also line-start markup (headings, quotes, lists)."""
    escaped = escape((text or "").strip())
    escaped = _LINE_MARKUP.sub(lambda m: m.group(1) + "\\" + m.group(2), escaped)
    return truncate(escaped, limit)


def duration(ms: int) -> str:
    """A total as h:mm:ss (a catalog entry's length)."""
    seconds = max(ms, 0) // 1000
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


def track_length(ms: int) -> str:
    """A song's length as m:ss, or h:mm:ss past an hour."""
    seconds = max(ms, 0) // 1000
    if seconds >= 3600:
        return duration(ms)
    return f"{seconds // 60}:{seconds % 60:02d}"


def plural(count: int, one: str, many: str | None = None) -> str:
    """`1 song`, `2 songs`, `1,034 songs`; `many` for words that do not just take an s."""
    return f"{count:,} {one if count == 1 else (many or one + 's')}"


def mention(user_id: int) -> str:
    """A user mention; it renders as the name and pings only whom allowed_mentions names."""
    return f"<@{user_id}>"


def timestamp(moment: datetime) -> str:
    """A relative Discord timestamp ("in 5 minutes"), in each member's own time zone."""
    return discord.utils.format_dt(moment, "R")


def clock(moment: datetime) -> str:
    """A Discord time of day, shown in each member's own time zone."""
    return discord.utils.format_dt(moment, "t")


def listed(lines: Sequence[str], limit: int, more: str = "and {n:,} more") -> tuple[str, int]:
    """As many whole lines as fit in `limit` characters, then `more` for the rest.

    Returns the text and how many of `lines` it holds. Lines are kept whole: the first
    that does not fit, with room for the tail, ends the list.
    """
    shown: list[str] = []
    used = 0
    for index, line in enumerate(lines):
        left = len(lines) - index - 1
        tail = len(more.format(n=left)) + 1 if left else 0
        room = limit - used - (1 if shown else 0) - tail
        if len(line) > room:
            break
        shown.append(line)
        used += len(line) + (1 if len(shown) > 1 else 0)
    rest = len(lines) - len(shown)
    if rest:
        shown.append(more.format(n=rest))
    return truncate("\n".join(shown), limit), len(shown) - (1 if rest else 0)
