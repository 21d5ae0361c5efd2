"""One new message in the channel that pings exactly whom it names (edits never ping), or
one private message to a member.

The import's owner is told this way when the import ends or waits long: a reply to the
progress message, best-effort like every progress message (a failure is logged, never the
job's; it is sent in the background, so Discord's rate limits never hold the work),
optionally carrying a text file (the full list a summary could not hold).
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Coroutine
from typing import Any

import discord
from discord.http import Route, handle_message_parameters

log = logging.getLogger(__name__)

#: The post's bound; the import waits on it once, at its end or at a long pause.
_POST_TIMEOUT_SECONDS = 15.0


async def post_notice(
    http: discord.http.HTTPClient | None,
    channel_id: int,
    content: str,
    *,
    mentions: discord.AllowedMentions,
    reply_to: int | None = None,
    attachment: tuple[str, str] | None = None,
) -> bool:
    """Post `content` (pinging only whom `mentions` allows), replying to `reply_to`, with an
    optional `(filename, text)` file. True if Discord took it."""
    if http is None:
        return False
    reference: Any = (
        {"message_id": str(reply_to), "channel_id": str(channel_id), "fail_if_not_exists": False}
        if reply_to is not None
        else None
    )
    file = (
        discord.File(io.BytesIO(attachment[1].encode()), filename=attachment[0])
        if attachment is not None
        else None
    )
    params = (
        handle_message_parameters(
            content=content, allowed_mentions=mentions, message_reference=reference, file=file
        )
        if file is not None
        else handle_message_parameters(
            content=content, allowed_mentions=mentions, message_reference=reference
        )
    )
    _string_ids(params)
    try:
        async with asyncio.timeout(_POST_TIMEOUT_SECONDS):
            await http.send_message(channel_id, params=params)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        log.warning("notice in channel %s failed: %r", channel_id, exc)
        return False
    finally:
        if file is not None:
            file.close()
    return True


def in_background(keep: set[asyncio.Task[None]], message: Coroutine[Any, Any, object]) -> None:
    """Send `message` without waiting for it; `keep` holds the task (asyncio holds tasks
    weakly) until it is done, and the worker gives what is left a short grace at exit."""

    async def run() -> None:
        await message

    task = asyncio.create_task(run(), name="notice")
    keep.add(task)
    task.add_done_callback(keep.discard)


async def send_dm(http: discord.http.HTTPClient | None, user_id: int, content: str) -> bool:
    """Tell one member privately (their DM with the bot), pinging no one. True if Discord
    took it; a member who does not accept DMs from server members is logged, not an error."""
    if http is None:
        return False
    params = handle_message_parameters(
        content=content, allowed_mentions=discord.AllowedMentions.none()
    )
    try:
        async with asyncio.timeout(_POST_TIMEOUT_SECONDS):
            # discord.py's start_private_message sends the id as a number; the API documents
            # a snowflake string.
            channel = await http.request(
                Route("POST", "/users/@me/channels"), json={"recipient_id": str(user_id)}
            )
            await http.send_message(int(channel["id"]), params=params)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        log.warning("direct message to member %s failed: %r", user_id, exc)
        return False
    return True


def _string_ids(params: Any) -> None:
    """Snowflakes as strings, as Discord's API documents them (discord.py sends the ids of
    `allowed_mentions.users` as integers), in a JSON body or a multipart's payload_json."""

    def fix(body: dict[str, Any]) -> None:
        mentions = body.get("allowed_mentions") or {}
        if "users" in mentions:
            mentions["users"] = [str(user) for user in mentions["users"]]

    if params.payload is not None:
        fix(params.payload)
    for part in params.multipart or []:
        if part.get("name") == "payload_json":
            body = json.loads(part["value"])
            fix(body)
            part["value"] = json.dumps(body)
