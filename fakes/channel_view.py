"""The fake Discord channel as plain text: what members would see, for the offline demo.

`ChannelView.new_blocks()` returns, oldest first, every message and every edit of one
channel that was not shown yet, each rendered as a few indented lines (content; embeds as
title, description and fields; link buttons). Ephemeral replies are marked with the one
member who sees them. Markdown is kept as Discord would receive it, except that mentions
become `@name` and timestamps a clock time, so the text reads as the channel does.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from fakes.discord_api import FakeDiscord

JSON = dict[str, Any]

EPHEMERAL, LOADING = 64, 128
_MENTION = re.compile(r"<@!?(\d+)>")
_TIMESTAMP = re.compile(r"<t:(\d+)(?::\w)?>")
_INDENT = "    "


def render_message(message: JSON, names: dict[int, str], *, edited: bool = False) -> list[str]:
    """One message version as lines: a header, then its content, embeds and buttons."""
    flags = int(message.get("flags") or 0)
    header = f"{message['author'].get('username', 'bot')}"
    who = (message.get("interaction_metadata") or {}).get("user") or {}
    member = _name(int(who.get("id") or 0), who.get("username"), names)
    command = (message.get("interaction") or {}).get("name")
    if command:
        header += f" (to {member} using /{command})"
    elif who:
        header += f" (to {member})"
    if flags & EPHEMERAL:
        header += f" [only {member} sees this]"
    if edited:
        header += " (edited)"
    lines = [header]
    if flags & LOADING:
        return [*lines, f"{_INDENT}is thinking…"]
    if message.get("content"):
        lines += _block(_plain(message["content"], names))
    for embed in message.get("embeds") or []:
        lines += render_embed(embed, names)
    for row in message.get("components") or []:
        for item in row.get("components") or []:
            label = item.get("label") or item.get("custom_id") or "button"
            target = f" -> {item['url']}" if item.get("url") else ""
            lines.append(f"{_INDENT}[{label}]{target}")
    return lines


def render_embed(embed: JSON, names: dict[int, str]) -> list[str]:
    """Title, description, fields (`name: value`) and footer, each on its own lines."""
    lines: list[str] = []
    if embed.get("title"):
        lines += _block("== " + _plain(embed["title"], names) + " ==")
    if embed.get("description"):
        lines += _block(_plain(embed["description"], names))
    for field in embed.get("fields") or []:
        value = _plain(field.get("value") or "", names)
        name = _plain(field.get("name") or "", names)
        if "\n" in value:
            lines += _block(f"{name}:") + _block(value, extra=_INDENT)
        else:
            lines += _block(f"{name}: {value}")
    footer = (embed.get("footer") or {}).get("text")
    if footer:
        lines += _block(f"-- {_plain(footer, names)}")
    return lines


class ChannelView:
    """Remembers which versions of a channel's messages were shown, to show only news."""

    def __init__(self, fake: FakeDiscord, channel_id: int, names: dict[int, str]) -> None:
        self.fake = fake
        self.channel_id = channel_id
        self.names = names
        self._shown: dict[int, int] = {}  # message id -> versions already looked at
        self._last: dict[int, list[str]] = {}  # message id -> its last rendering shown

    def new_blocks(self) -> list[list[str]]:
        """Every message version not shown yet, rendered; edits that change nothing skipped."""
        blocks: list[list[str]] = []
        for message in self.fake.messages(self.channel_id):
            message_id = int(message["id"])
            versions = self.fake.history(self.channel_id, message_id)
            for number in range(self._shown.get(message_id, 0), len(versions)):
                lines = render_message(versions[number].message, self.names, edited=number > 0)
                if self._last.get(message_id, [])[1:] != lines[1:]:
                    blocks.append(lines)
                    self._last[message_id] = lines
            self._shown[message_id] = len(versions)
        return blocks

    def latest_embed_title(self, title_prefix: str) -> str | None:
        """The newest public message whose first embed's title starts with `title_prefix`."""
        for message in reversed(self.fake.messages(self.channel_id, include_ephemeral=False)):
            for embed in message.get("embeds") or []:
                title = str(embed.get("title") or "")
                if title.startswith(title_prefix):
                    return title
        return None

    def public_text(self) -> str:
        """Every visible string of the channel's public messages now (for `in` checks)."""
        parts = []
        for message in self.fake.messages(self.channel_id, include_ephemeral=False):
            parts += render_message(message, self.names)
        return "\n".join(parts)


def _name(user_id: int, username: str | None, names: dict[int, str]) -> str:
    return names.get(user_id) or username or str(user_id)


def _plain(text: str, names: dict[int, str]) -> str:
    text = _MENTION.sub(lambda m: "@" + _name(int(m.group(1)), None, names), text)
    return _TIMESTAMP.sub(
        lambda m: datetime.fromtimestamp(int(m.group(1))).strftime("%H:%M:%S"), text
    )


def _block(text: str, extra: str = "") -> list[str]:
    return [f"{_INDENT}{extra}{line}" for line in text.splitlines()]
