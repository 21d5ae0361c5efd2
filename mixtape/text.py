"""Discord-safe text: user-controlled strings escaped and cut to Discord's limits.

Shared by the bot's replies and the worker's progress messages, so a playlist called
`@everyone **bold** <@123> https://evil.example` reads the same, pings nobody and links
nowhere, wherever it appears.
"""

from __future__ import annotations

import re

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
