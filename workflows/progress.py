"""Progress messages in the channel, edited from the worker over Discord's REST API.

Edits are throttled (Discord rate limits, and nobody reads 50 edits a second) and never
fail the work: a deleted message or a lost permission is logged and further edits stop.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

import discord
from discord.http import handle_message_parameters

log = logging.getLogger(__name__)

_EDIT_TIMEOUT_SECONDS = 15.0
#: Discord refuses edits of messages older than an hour with this code.
_TOO_OLD_TO_EDIT = 30046


class ChannelProgress:
    """Edits one channel message with the latest state, at most every `interval` seconds."""

    def __init__(
        self,
        http: discord.http.HTTPClient | None,
        channel_id: int,
        message_id: int | None,
        *,
        interval: float,
        clock: Callable[[], float] = time.monotonic,
        on_new_message: Callable[[int], Awaitable[object]] | None = None,
    ) -> None:
        self._http = http
        self._channel_id = channel_id
        self._message_id = message_id
        self._interval = interval
        self._clock = clock
        self._last_edit: float | None = None
        self._gone = http is None or message_id is None
        self._on_new_message = on_new_message

    @property
    def message_id(self) -> int | None:
        return self._message_id

    async def update(self, embed: discord.Embed, *, final: bool = False) -> bool:
        """Show `embed` unless an edit went out less than `interval` ago; True if edited."""
        if self._gone:
            return False
        now = self._clock()
        if not final and self._last_edit is not None and now - self._last_edit < self._interval:
            return False
        self._last_edit = now
        return await self._edit(embed)

    async def _edit(self, embed: discord.Embed) -> bool:
        assert self._http is not None and self._message_id is not None
        params = handle_message_parameters(
            embed=embed, allowed_mentions=discord.AllowedMentions.none()
        )
        try:
            async with asyncio.timeout(_EDIT_TIMEOUT_SECONDS):
                await self._http.edit_message(self._channel_id, self._message_id, params=params)
        except discord.HTTPException as exc:
            if exc.code == _TOO_OLD_TO_EDIT:
                return await self._repost(params)
            if isinstance(exc, (discord.NotFound, discord.Forbidden)):
                log.warning("progress message %s/%s unavailable (%s); the work goes on",
                            self._channel_id, self._message_id, exc)
                self._gone = True
                return False
            log.warning("progress edit of %s/%s failed: %s", self._channel_id,
                        self._message_id, exc)
            return False
        except (TimeoutError, OSError) as exc:
            log.warning("progress edit of %s/%s failed: %s", self._channel_id, self._message_id,
                        exc)
            return False
        return True

    async def _repost(self, params: discord.http.MultipartParameters) -> bool:
        """A long job outlives Discord's one-hour edit window: carry on in a fresh message."""
        assert self._http is not None
        try:
            async with asyncio.timeout(_EDIT_TIMEOUT_SECONDS):
                message = await self._http.send_message(self._channel_id, params=params)
        except (discord.HTTPException, TimeoutError, OSError) as exc:
            log.warning("progress repost in %s failed: %s", self._channel_id, exc)
            return False
        self._message_id = int(message["id"])
        log.info("progress moved to a fresh message %s in %s", self._message_id,
                 self._channel_id)
        if self._on_new_message is not None:
            await self._on_new_message(self._message_id)
        return True
