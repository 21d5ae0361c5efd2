"""What the fake Discord knows and records: channels, messages, interactions, commands.

The HTTP layer (`discord_routes`) runs on the server's thread while tests read from
theirs, so every method here takes one re-entrant lock, and readers get deep copies.
Changes notify a condition so `wait_for` wakes as soon as something happens.
"""

from __future__ import annotations

import asyncio
import copy
import secrets
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from fakes.discord_limits import (
    ROUTE_POLICIES,
    FaultBook,
    RateLimiter,
    RateLimitPolicy,
    route_shape,
)
from fakes.discord_models import (
    JSON,
    ApiError,
    Snowflakes,
    application_payload,
    channel_payload,
    me_payload,
    user_payload,
)
from fakes.discord_records import (
    CallRecord,
    InteractionCallback,
    InteractionTicket,
    MessageVersion,
    _Interaction,
    _Stored,
)

T = TypeVar("T")

EDIT_AGE_LIMIT = 3600.0  # Discord's 30046 applies to edits of messages older than an hour
# Docs interactions/receiving-and-responding#responding-to-an-interaction: the initial
# response is due within 3 seconds, and the token then works for 15 minutes.
TOKEN_LIFETIME = 900.0
CALLBACK_DEADLINE = 3.0
DEFAULT_TOKEN = "fake-bot-token"


class Clock:
    """The fake's wall clock: real time plus whatever a test skipped with `advance`.

    Deadlines (3 s to answer, 15-minute tokens, hour-old edits) are tested by moving it
    forward instead of waiting; it keeps running, so rate-limit windows still pass.
    """

    def __init__(self, source: Callable[[], float] = time.time) -> None:
        self._source = source
        self._skipped = 0.0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._source() + self._skipped

    def advance(self, seconds: float) -> None:
        """Jump `seconds` ahead (never back: ids and windows assume time moves forward)."""
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        with self._lock:
            self._skipped += seconds


class DiscordStore:
    """The fake's world and records; thread-safe."""

    def __init__(
        self,
        *,
        token: str = DEFAULT_TOKEN,
        bot_name: str = "Mixtape",
        rate_limit: RateLimitPolicy | None = None,
        callback_deadline: float | None = CALLBACK_DEADLINE,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._cond = threading.Condition(threading.RLock())
        self.clock = clock if isinstance(clock, Clock) else Clock(clock)
        self.ids = Snowflakes()
        now = self.clock()
        self.token = token
        self.application_id = self.ids.next(now)
        self.bot_user = user_payload(self.application_id, bot_name, bot=True)
        self.owner = user_payload(self.ids.next(now), "owner")
        self.guild_id = self.ids.next(now)
        self.callback_deadline = callback_deadline
        self.limiter = RateLimiter(rate_limit or RateLimitPolicy(), self.clock, ROUTE_POLICIES)
        self.faults = FaultBook()
        self._channels: dict[int, JSON] = {}
        self._denied: dict[int, int] = {}
        self._messages: dict[int, _Stored] = {}
        self._interactions: dict[int, _Interaction] = {}
        self._tokens: dict[str, _Interaction] = {}
        self._commands: dict[int | None, list[JSON]] = {}
        self._calls: list[CallRecord] = []
        self.channel_id = self.add_channel(name="general")

    # -- world setup ---------------------------------------------------------------

    def now(self) -> float:
        """The fake's wall clock (epoch seconds)."""
        return self.clock()

    def advance(self, seconds: float) -> None:
        """Move the fake's clock `seconds` ahead: interaction deadlines, token lifetimes and
        message ages see it at once, so a test checks a 15-minute rule without waiting."""
        self.clock.advance(seconds)
        self.notify()

    def add_channel(
        self, channel_id: int | None = None, *, guild_id: int | None = None, name: str | None = None
    ) -> int:
        """Create a guild text channel (idempotent for a known id); returns its id."""
        with self._cond:
            cid = channel_id if channel_id is not None else self.ids.next(self.now())
            if cid not in self._channels:
                gid = guild_id if guild_id is not None else self.guild_id
                label = name or f"channel-{len(self._channels) + 1}"
                self._channels[cid] = channel_payload(cid, gid, label, len(self._channels))
            self._cond.notify_all()
            return cid

    def open_dm(self, user_id: int) -> JSON:
        """The bot's DM channel with a user (`PrivateChannelResponse`), opened on first use:
        Discord answers the same channel every time (POST /users/@me/channels)."""
        with self._cond:
            found = self.dm_channel_id(user_id)
            if found is None:
                found = self.ids.next(self.now())
                self._channels[found] = {
                    "id": str(found),
                    "type": 1,
                    "last_message_id": None,
                    "flags": 0,
                    "recipients": [user_payload(user_id, f"user{user_id % 10_000}")],
                }
                self._cond.notify_all()
            return copy.deepcopy(self._channels[found])

    def dm_channel_id(self, user_id: int) -> int | None:
        """The DM channel opened with a user, if the bot opened one."""
        with self._cond:
            for cid, channel in self._channels.items():
                if channel["type"] == 1 and channel["recipients"][0]["id"] == str(user_id):
                    return cid
            return None

    def deny_channel(self, channel_id: int, code: int = 50001) -> None:
        """Make every request on the channel fail 403 (50001 Missing Access, 50013 ...)."""
        with self._cond:
            self._denied[channel_id] = code

    def allow_channel(self, channel_id: int) -> None:
        """Undo `deny_channel`."""
        with self._cond:
            self._denied.pop(channel_id, None)

    def delete_message(self, channel_id: int, message_id: int) -> None:
        """Delete a message as a moderator would; later edits get 404 Unknown Message."""
        with self._cond:
            self.stored_message(channel_id, message_id).deleted = True
            self._cond.notify_all()

    def age_message(self, channel_id: int, message_id: int, seconds: float) -> None:
        """Pretend a message was posted `seconds` earlier (edits past an hour get 30046)."""
        with self._cond:
            stored = self.stored_message(channel_id, message_id)
            stored.created_at -= seconds

    def issue_interaction(
        self,
        interaction_type: int,
        *,
        channel_id: int,
        guild_id: int | None,
        user: JSON,
        name: str,
        message_id: int | None = None,
    ) -> InteractionTicket:
        """Mint the id and token of an interaction, as Discord does before delivering it."""
        with self._cond:
            now = self.now()
            inter = _Interaction(
                id=self.ids.next(now),
                token=f"aW50ZXJhY3Rpb24.{secrets.token_urlsafe(48)}",
                type=interaction_type,
                channel_id=channel_id,
                guild_id=guild_id,
                user=copy.deepcopy(user),
                name=name,
                message_id=message_id,
                issued_at=now,
            )
            self._interactions[inter.id] = inter
            self._tokens[inter.token] = inter
            return InteractionTicket(inter.id, inter.token)

    def age_interaction(self, interaction_id: int, seconds: float) -> None:
        """Pretend an interaction arrived `seconds` earlier (tokens die after 15 min)."""
        with self._cond:
            self._interactions[interaction_id].issued_at -= seconds

    # -- inspection -----------------------------------------------------------------

    def calls(self, route: str | None = None) -> list[CallRecord]:
        """Every answered request, oldest first; only those of `route` if given."""
        with self._cond:
            if route is None:
                return list(self._calls)
            shape = route_shape(route)
            return [c for c in self._calls if route_shape(c.route) == shape]

    def count(self, route: str, status: int | None = None) -> int:
        """How many requests `route` got (with that answer status, if given)."""
        return sum(1 for c in self.calls(route) if status is None or c.status == status)

    def messages(
        self, channel_id: int, *, include_ephemeral: bool = True, include_replies: bool = True
    ) -> list[JSON]:
        """The channel's current messages, oldest first, as Discord would return them."""
        with self._cond:
            return [
                copy.deepcopy(s.data)
                for s in self._messages.values()
                if s.data["channel_id"] == str(channel_id)
                and not s.deleted
                and (include_ephemeral or not s.data["flags"] & 64)
                and (include_replies or "message_reference" not in s.data)
            ]

    def message(self, channel_id: int, message_id: int) -> JSON | None:
        """One message's current state, or None when unknown or deleted."""
        with self._cond:
            stored = self._messages.get(int(message_id))
            if stored is None or stored.deleted or stored.data["channel_id"] != str(channel_id):
                return None
            return copy.deepcopy(stored.data)

    def message_by_id(self, message_id: int) -> JSON | None:
        """A live message wherever it is (button presses know only the message)."""
        with self._cond:
            stored = self._messages.get(int(message_id))
            return None if stored is None or stored.deleted else copy.deepcopy(stored.data)

    def history(self, channel_id: int, message_id: int) -> list[MessageVersion]:
        """Every version of a message (create, then each edit), including deleted ones."""
        with self._cond:
            stored = self._messages.get(int(message_id))
            if stored is None or stored.data["channel_id"] != str(channel_id):
                return []
            return list(stored.versions)

    def interaction_responses(self, interaction_id: int) -> list[InteractionCallback]:
        """Initial responses sent for an interaction (Discord accepts one)."""
        with self._cond:
            inter = self._interactions.get(interaction_id)
            return list(inter.callbacks) if inter else []

    def interaction_response(self, interaction_id: int) -> InteractionCallback | None:
        """The accepted initial response, or None yet."""
        responses = self.interaction_responses(interaction_id)
        return responses[0] if responses else None

    def original_response(self, token: str) -> JSON | None:
        """The message behind `@original` for an interaction token, if there is one."""
        with self._cond:
            inter = self._tokens.get(token)
            if inter is None or inter.original_id is None:
                return None
            stored = self._messages.get(inter.original_id)
            return None if stored is None or stored.deleted else copy.deepcopy(stored.data)

    def followups(self, token: str) -> list[JSON]:
        """Current state of the followup messages sent with an interaction token."""
        with self._cond:
            inter = self._tokens.get(token)
            if inter is None:
                return []
            found = (self._messages[i] for i in inter.followup_ids)
            return [copy.deepcopy(s.data) for s in found if not s.deleted]

    def commands(self, guild_id: int | None = None) -> list[JSON]:
        """Registered application commands: global, or of one guild."""
        with self._cond:
            return copy.deepcopy(self._commands.get(guild_id, []))

    def wait_for(self, predicate: Callable[[], T | None], timeout: float = 5.0) -> T:
        """Block until `predicate()` is truthy and return it; for threads and subprocesses.

        Do not call it from the loop that runs an in-process discord.py client: it blocks
        that loop. Use `async_wait_for` there.
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                result = predicate()
                if result:
                    return result
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(self._timeout_message(timeout))
                # Wake on every change, and re-check now and then for outside state.
                self._cond.wait(min(remaining, 0.05))

    async def async_wait_for(
        self, predicate: Callable[[], T | None], within: float = 5.0, interval: float = 0.01
    ) -> T:
        """Poll `predicate()` until truthy without blocking the caller's event loop."""
        deadline = time.monotonic() + within
        while True:
            result = predicate()
            if result:
                return result
            if time.monotonic() >= deadline:
                raise TimeoutError(self._timeout_message(within))
            await asyncio.sleep(interval)

    def _timeout_message(self, timeout: float) -> str:
        recent = ", ".join(f"{c.route or c.path} -> {c.status}" for c in self.calls()[-8:])
        return f"condition not met within {timeout:.1f}s; last calls: [{recent}]"

    # -- helpers for the route layer ------------------------------------------------

    def record_call(self, call: CallRecord) -> None:
        """Log an answered request."""
        with self._cond:
            self._calls.append(call)
            self._cond.notify_all()

    def check_auth(self, header: str | None) -> None:
        """Bot routes need `Authorization: Bot <token>`."""
        if header != f"Bot {self.token}":
            raise ApiError(401, 0, "401: Unauthorized")

    def me(self) -> JSON:
        """`GET /users/@me`."""
        return me_payload(self.bot_user)

    def application(self) -> JSON:
        """`GET /oauth2/applications/@me`."""
        return application_payload(self.application_id, self.bot_user, self.owner)

    def channel(self, channel_id: int, *, access: bool = True) -> JSON:
        """A channel (one the bot may use, if `access`), or Discord's 404/403."""
        with self._cond:
            code = self._denied.get(channel_id)
            if access and code is not None:
                raise ApiError(403, code, _FORBIDDEN.get(code, "Missing Access"))
            found = self._channels.get(channel_id)
            if found is None:
                raise ApiError(404, 10003, "Unknown Channel")
            return copy.deepcopy(found)

    def stored_message(self, channel_id: int, message_id: int) -> _Stored:
        """A live message in that channel, or 404 Unknown Message."""
        with self._cond:
            stored = self._messages.get(int(message_id))
            if stored is None or stored.deleted or stored.data["channel_id"] != str(channel_id):
                raise ApiError(404, 10008, "Unknown Message")
            return stored

    def interaction_by_id(self, interaction_id: int, token: str) -> _Interaction:
        """An interaction addressed by id and token, or 404 Unknown interaction."""
        with self._cond:
            inter = self._interactions.get(interaction_id)
            if inter is None or inter.token != token:
                raise ApiError(404, 10062, "Unknown interaction")
            return inter

    def interaction_by_token(self, webhook_id: int, token: str) -> _Interaction:
        """The interaction behind an application webhook token, if still valid."""
        with self._cond:
            if webhook_id != self.application_id:
                raise ApiError(404, 10015, "Unknown Webhook")
            inter = self._tokens.get(token)
            if inter is None or self.now() - inter.issued_at > TOKEN_LIFETIME:
                raise ApiError(401, 50027, "Invalid Webhook Token")
            return inter

    def put_message(self, stored: _Stored) -> None:
        """Add a newly created message."""
        with self._cond:
            self._messages[int(stored.data["id"])] = stored
            self._cond.notify_all()

    def notify(self) -> None:
        """Wake waiters after an in-place change."""
        with self._cond:
            self._cond.notify_all()

    def set_commands(self, guild_id: int | None, commands: list[JSON]) -> None:
        """Replace the command set of a scope."""
        with self._cond:
            self._commands[guild_id] = copy.deepcopy(commands)
            self._cond.notify_all()

    def channel_messages(self, channel_id: int) -> list[_Stored]:
        """Live stored messages of a channel, oldest first."""
        with self._cond:
            return [
                s
                for s in self._messages.values()
                if s.data["channel_id"] == str(channel_id) and not s.deleted
            ]

    @property
    def lock(self) -> threading.Condition:
        """The store's lock, for multi-step changes in the route layer."""
        return self._cond


_FORBIDDEN = {50001: "Missing Access", 50013: "Missing Permissions"}
