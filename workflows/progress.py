"""Progress messages in the channel, edited from the worker over Discord's REST API.

Progress is best-effort and off the critical path: `update` only hands the newest embed to
one background sender per message and returns at once, so Discord's rate limits, slowness
or errors (any class) never slow, stall or fail the work. The sender edits at most every
`interval` seconds and always sends the newest state: a throttled, rate-limited or failed
edit is coalesced into the next one. A deleted message or a lost permission stops edits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

import discord
from discord.http import handle_message_parameters

log = logging.getLogger(__name__)

#: One edit's bound; the import never waits on it (the sender does).
_EDIT_TIMEOUT_SECONDS = 15.0
#: The longest a rate-limited sender waits before trying again with the newest state.
_MAX_BACKOFF_SECONDS = 120.0
#: A failed edit (timeout, 5xx, transport) is retried with the newest state after this.
_ERROR_BACKOFF_SECONDS = 5.0
#: How long a sender outlives its job to deliver the final state (then it gives up).
_LINGER_SECONDS = 300.0
#: Discord refuses edits of messages older than an hour with this code.
_TOO_OLD_TO_EDIT = 30046


class ChannelProgress:
    """Keeps one channel message showing the latest state, edited in the background."""

    def __init__(
        self,
        http: discord.http.HTTPClient | None,
        channel_id: int,
        message_id: int | None,
        *,
        interval: float,
        clock: Callable[[], float] = time.monotonic,
        on_new_message: Callable[[int], Awaitable[object]] | None = None,
        keep: set[asyncio.Task[None]] | None = None,
        post_first: bool = False,
    ) -> None:
        """`post_first`: without a message yet, the first state is posted as a new one
        (`on_new_message` is told its id)."""
        self._http = http
        self._channel_id = channel_id
        self._message_id = message_id
        self._interval = interval
        self._clock = clock
        self._on_new_message = on_new_message
        self._gone = http is None or (message_id is None and not post_first)
        self._last_edit: float | None = None
        self._pending: discord.Embed | None = None
        self._urgent = False  # the pending state skips the interval (a final or a pause)
        self._wake = asyncio.Event()
        self._sender: asyncio.Task[None] | None = None
        #: Where a sender that outlives `close` is kept alive (asyncio holds tasks weakly).
        self._keep = keep if keep is not None else set()
        self.delivered = 0  # edits Discord accepted, for tests and logs

    @property
    def message_id(self) -> int | None:
        return self._message_id

    async def update(self, embed: discord.Embed, *, final: bool = False) -> bool:
        """Make `embed` the state to show; never waits on Discord. False once edits stopped.

        A non-final state waits for the interval (only the newest is sent); a final one
        goes out as soon as the sender is free.
        """
        if self._gone:
            return False
        self._pending = embed
        self._urgent = self._urgent or final
        self._wake.set()
        if self._sender is None or self._sender.done():
            self._sender = asyncio.create_task(self._send_loop(), name="progress-sender")
        return True

    async def flush(self, within: float) -> bool:
        """Wait up to `within` seconds for the pending state to reach Discord; True if so."""
        sender = self._sender
        if sender is None or sender.done():
            return self._pending is None
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within):
                await asyncio.shield(sender)
        return self._pending is None and sender.done()

    async def close(self, wait: float = 5.0) -> None:
        """The job is over: give the last state `wait` seconds, then let it finish alone.

        A sender still waiting out a rate limit keeps going in the background (kept in
        `keep`) for at most `_LINGER_SECONDS`, so the summary still lands.
        """
        if await self.flush(wait):
            return
        sender = self._sender
        if sender is None or sender.done():
            return
        linger = asyncio.create_task(self._linger(sender), name="progress-linger")
        self._keep.add(linger)
        linger.add_done_callback(self._keep.discard)

    def abandon(self) -> None:
        """Stop editing now (the run was cancelled or handed to a newer one)."""
        self._gone = True
        self._pending = None
        if self._sender is not None and not self._sender.done():
            self._sender.cancel()

    async def _linger(self, sender: asyncio.Task[None]) -> None:
        try:
            async with asyncio.timeout(_LINGER_SECONDS):
                await sender
        except TimeoutError:
            log.warning(
                "progress of %s/%s: gave up on the last edit after %.0fs",
                self._channel_id,
                self._message_id,
                _LINGER_SECONDS,
            )
            sender.cancel()

    async def _send_loop(self) -> None:
        """Send the newest pending state, paced by the interval and Discord's answers."""
        while self._pending is not None and not self._gone:
            if not self._urgent and self._last_edit is not None:
                wait = self._last_edit + self._interval - self._clock()
                if wait > 0:
                    self._wake.clear()
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(wait):
                            await self._wake.wait()  # woken early by an urgent state
                    continue
            embed, self._pending, self._urgent = self._pending, None, False
            backoff = await self._edit(embed)
            if backoff is None:
                continue
            if self._pending is None:  # nothing newer: try this state again
                self._pending = embed
            await asyncio.sleep(backoff)

    async def _edit(self, embed: discord.Embed) -> float | None:
        """One edit; None when done with it, or seconds to wait before the next try."""
        assert self._http is not None
        self._last_edit = self._clock()
        params = handle_message_parameters(
            embed=embed, allowed_mentions=discord.AllowedMentions.none()
        )
        if self._message_id is None:  # post_first: the message does not exist yet
            return await self._repost(params)
        where = f"{self._channel_id}/{self._message_id}"
        try:
            async with asyncio.timeout(_EDIT_TIMEOUT_SECONDS):
                await self._http.edit_message(self._channel_id, self._message_id, params=params)
        except discord.RateLimited as exc:  # longer than the client waits by itself
            log.info("progress edit of %s rate limited for %.1fs", where, exc.retry_after)
            return min(max(exc.retry_after, 0.0), _MAX_BACKOFF_SECONDS)
        except discord.HTTPException as exc:
            if exc.code == _TOO_OLD_TO_EDIT:
                return await self._repost(params)
            if isinstance(exc, (discord.NotFound, discord.Forbidden)):
                log.warning("progress message %s unavailable (%s); the work goes on", where, exc)
                self._gone = True
                return None
            log.warning("progress edit of %s failed: %s", where, exc)
            return _ERROR_BACKOFF_SECONDS
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # timeouts, transport errors, anything: never the job's
            log.warning("progress edit of %s failed: %r", where, exc)
            return _ERROR_BACKOFF_SECONDS
        self.delivered += 1
        return None

    async def _repost(self, params: discord.http.MultipartParameters) -> float | None:
        """A fresh message: the first one (`post_first`), or the next when a long job
        outlives Discord's one-hour edit window."""
        assert self._http is not None
        try:
            async with asyncio.timeout(_EDIT_TIMEOUT_SECONDS):
                message = await self._http.send_message(self._channel_id, params=params)
        except asyncio.CancelledError:
            raise
        except (discord.NotFound, discord.Forbidden) as exc:
            log.warning(
                "progress in %s cannot be posted (%s); the work goes on", self._channel_id, exc
            )
            self._gone = True
            return None
        except Exception as exc:
            log.warning("progress repost in %s failed: %r", self._channel_id, exc)
            return _ERROR_BACKOFF_SECONDS
        self._message_id = int(message["id"])
        self.delivered += 1
        log.info("progress moved to a fresh message %s in %s", self._message_id, self._channel_id)
        if self._on_new_message is not None:
            try:
                await self._on_new_message(self._message_id)
            except Exception:
                log.exception("recording progress message %s failed", self._message_id)
        return None
