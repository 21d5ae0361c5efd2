"""A fake Discord REST API (v10) for tests, served on 127.0.0.1 from its own thread.

Point discord.py at it with `discord.http.Route.BASE = fake.api_base` (see
`fakes.interactions.discord_api_base`), or hand `api_base` to a worker subprocess.
It answers the routes a bot uses (login, command sync, interaction callbacks, followups,
channel messages) in the shapes of `discord-openapi.json`, serves a gateway websocket
(`fakes.discord_gateway`: `bot.start()` works, tests `dispatch` events to it), keeps
per-route rate-limit buckets (message edits: 5 per 5 s per channel), refuses what Discord
refuses (`fakes.discord_forms`: message, embed, autocomplete and command limits, 400 50035
naming the field), holds interactions to their deadlines on a clock tests can `advance`
(3 s for the first answer, 15 minutes per token), and records every message version and
interaction response so tests can assert what a member would have seen. Every answered
request is also offered to `fakes.traffic`, whose sample a test run checks against
Discord's OpenAPI description.

    with FakeDiscord() as fake:
        fake.force_429("POST /channels/{channel_id}/messages", retry_after=0.2)
        ...
        assert fake.messages(fake.channel_id)[-1]["content"] == "done"
"""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from fakes.discord_gateway import DEFAULT_HEARTBEAT_INTERVAL, GatewayHub, GatewayMixin
from fakes.discord_limits import Fault, RateLimitPolicy, route_shape
from fakes.discord_records import (
    CallRecord,
    InteractionCallback,
    InteractionTicket,
    MessageVersion,
)
from fakes.discord_routes import API_PREFIX, ROUTES, build_app
from fakes.discord_store import DiscordStore
from fakes.server import ServedFake

__all__ = [
    "API_PREFIX",
    "CallRecord",
    "FakeDiscord",
    "InteractionCallback",
    "InteractionTicket",
    "MessageVersion",
    "RateLimitPolicy",
    "known_routes",
]


def known_routes() -> list[str]:
    """Every route the fake serves, as `'METHOD /path/{param}'`."""
    return [f"{method} {path}" for method, path, _, _ in ROUTES]


class FakeDiscord(ServedFake, GatewayMixin, DiscordStore):
    """The fake Discord: its state and records (`DiscordStore`), HTTP server and gateway."""

    def __init__(
        self, *, heartbeat_interval: int = DEFAULT_HEARTBEAT_INTERVAL, **options: Any
    ) -> None:
        super().__init__(**options)
        self.gateway = GatewayHub(self, heartbeat_interval=heartbeat_interval)

    def build_app(self) -> web.Application:
        return build_app(self, self.gateway.install)

    def _started(self, base_url: str) -> None:
        self.gateway.bind(base_url)

    @property
    def api_base(self) -> str:
        """`http://127.0.0.1:PORT/api/v10`: the value for `discord.http.Route.BASE`."""
        return self.base_url + API_PREFIX

    # -- faults and limits ------------------------------------------------------------

    def force_429(
        self,
        route: str,
        *,
        times: int = 1,
        retry_after: float = 0.5,
        is_global: bool = False,
        via: bool = True,
        for_seconds: float | None = None,
    ) -> None:
        """Answer the next `times` requests of `route` with 429 and `retry_after`.

        `for_seconds` answers every request of `route` with 429 for that long instead.
        `via=False` drops the `Via` header, which discord.py reads as a Cloudflare ban.
        """
        until = None if for_seconds is None else time.monotonic() + for_seconds
        self.faults.add(
            Fault(
                _known(route),
                429,
                times,
                retry_after=retry_after,
                is_global=is_global,
                via=via,
                until=until,
            )
        )

    def force_error(
        self, route: str, status: int, *, code: int = 0, message: str = "", times: int = 1
    ) -> None:
        """Answer the next `times` requests of `route` with `status` and Discord `code`."""
        self.faults.add(Fault(_known(route), status, times, code=code, message=message))

    def delay(self, route: str, seconds: float, *, times: int = 1) -> None:
        """Hold the next `times` requests of `route` for `seconds`, then answer them."""
        self.faults.add(Fault(_known(route), None, times, delay=seconds))

    def set_rate_limit(self, route: str, limit: int, window: float) -> None:
        """Give `route` a bucket of `limit` requests per `window` seconds."""
        self.limiter.configure(_known(route), RateLimitPolicy(limit, window))

    def clear_faults(self) -> None:
        """Drop every pending fault."""
        self.faults.clear()


def _known(route: str) -> str:
    """Reject route names the fake does not serve, so a typo cannot silently not fire."""
    shapes = {route_shape(r): r for r in known_routes()}
    try:
        return shapes[route_shape(route)]
    except KeyError:
        raise ValueError(
            f"the fake does not serve {route!r}; known: {sorted(shapes.values())}"
        ) from None
