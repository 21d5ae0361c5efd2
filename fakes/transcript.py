"""The fake Discord's channel as an HTML transcript in Discord's look, for eyes and browsers.

chat-exporter renders real `discord.Message` objects the way Discord's client does
(embeds with their colour bar, inline fields, buttons, "(edited)"), so the stored payloads
are turned into messages with discord.py's own `ConnectionState`, with no network and no
login. Every stored version of a message becomes one entry, so a progress message shows
each state it went through, as a member scrolling the channel live would have seen.
"""

from __future__ import annotations

import asyncio
import copy
import re
from pathlib import Path
from typing import Any

import chat_exporter
import discord
from discord.state import ConnectionState

from fakes.channel_view import EPHEMERAL, LOADING
from fakes.discord_models import user_payload
from fakes.discord_store import DiscordStore

JSON = dict[str, Any]
SERVER = "Mixtape demo server"
#: `<https://…>` is Discord's "link without preview": its client shows the bare link, while
#: chat-exporter 3.1.0 prints the brackets, so they are dropped before export.
_NO_PREVIEW_LINK = re.compile(r"<(https?://[^\s<>]+)>")


def channel_versions(store: DiscordStore, channel_id: int) -> list[JSON]:
    """Every version of the channel's messages, oldest first; repeats and 'thinking' dropped.

    A version repeats when an edit changed nothing a member sees (the bot's throttled
    editor may send the same progress twice); each later version keeps its message id
    and carries `edited_timestamp`, so the exporter marks it "(edited)".
    """
    versions: list[JSON] = []
    for message in store.messages(channel_id):
        last: JSON | None = None
        for version in store.history(channel_id, int(message["id"])):
            payload = _unwrap_links(copy.deepcopy(version.message))
            if int(payload.get("flags") or 0) & LOADING:
                continue
            seen = _visible(payload)
            if last is not None and seen == _visible(last):
                continue
            versions.append(payload)
            last = payload
    return versions


async def render_html(
    store: DiscordStore, channel_id: int, names: dict[int, str], *, server: str = SERVER
) -> str:
    """The channel's transcript as one HTML page; `names` are the members mentions name."""
    state = _offline_state()
    members: list[JSON] = [
        {"user": user_payload(user_id, name), "roles": [], "joined_at": None, "flags": 0}
        for user_id, name in names.items()
    ]
    guild_data = {
        "id": str(store.guild_id),
        "name": server,
        "owner_id": store.owner["id"],
        "roles": [],
        "emojis": [],
        "stickers": [],
        "features": [],
        "channels": [],
        "members": members,
        "member_count": len(members),
    }
    guild = discord.Guild(data=guild_data, state=state)  # type: ignore[arg-type]
    channel = discord.TextChannel(
        state=state,
        guild=guild,
        data=store.channel(channel_id, access=False),  # type: ignore[arg-type]
    )
    messages = [
        discord.Message(state=state, channel=channel, data=payload)  # type: ignore[arg-type]
        for payload in channel_versions(store, channel_id)
    ]
    # raw_export takes the newest first, as `channel.history()` yields them.
    html = await chat_exporter.raw_export(
        channel,
        messages[::-1],
        tz_info="UTC",
        military_time=True,
        support_dev=False,
        raise_exceptions=True,
    )
    return str(html)


async def write_transcript(
    store: DiscordStore,
    channel_id: int,
    names: dict[int, str],
    path: Path,
    *,
    server: str = SERVER,
) -> Path:
    """Write the channel's transcript to `path` and return it."""
    html = await render_html(store, channel_id, names, server=server)
    await asyncio.to_thread(_save, path, html)
    return path


def _save(path: Path, html: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")


def _offline_state() -> ConnectionState:
    """discord.py's state with no gateway and no HTTP: enough to build messages from data."""
    http = discord.http.HTTPClient(asyncio.get_running_loop())
    # All intents, so the guild keeps the members that mentions are named from.
    state = ConnectionState(
        dispatch=lambda *_: None, handlers={}, hooks={}, http=http, intents=discord.Intents.all()
    )
    state.loop = asyncio.get_running_loop()
    return state


def _unwrap_links(message: JSON) -> JSON:
    """Drop the brackets of no-preview links in content, descriptions and field values."""
    message["content"] = _unwrap(message.get("content"))
    for embed in message.get("embeds") or []:
        embed["description"] = _unwrap(embed.get("description"))
        for field in embed.get("fields") or []:
            field["value"] = _unwrap(field.get("value"))
    return message


def _unwrap(text: str | None) -> str | None:
    return _NO_PREVIEW_LINK.sub(r"\1", text) if text else text


def _visible(message: JSON) -> tuple[Any, ...]:
    return (
        message.get("content"),
        message.get("embeds"),
        message.get("components"),
        int(message.get("flags") or 0) & EPHEMERAL,
    )
