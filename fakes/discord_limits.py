"""Rate-limit buckets and injected faults of the fake Discord.

Discord limits each route per "major parameter" (channel, guild, webhook) and tells the
client where it stands in `X-RateLimit-*` headers; discord.py sleeps pre-emptively on
`Remaining: 0` and retries a 429 after the body's `retry_after`. The fake keeps real
fixed-window buckets so a client that ignores the headers gets 429s, as it would live.
"""

from __future__ import annotations

import hashlib
import math
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

_PLACEHOLDER = re.compile(r"\{[^}]*\}")
# Clients sleep `Reset-After` and may wake a hair early (timer granularity, rounding);
# a window counts as over this close to its end so a well-behaved client never sees 429.
_RESET_GRACE = 0.01
RATE_LIMIT_MESSAGE = "You are being rate limited."


def route_shape(route: str) -> str:
    """`'POST /channels/{channel_id}/messages'` -> `'POST /channels/{}/messages'`.

    Lets callers name a route with discord.py's placeholder names or the spec's.
    """
    return _PLACEHOLDER.sub("{}", route.strip())


def bucket_hash(route: str) -> str:
    """A stable opaque bucket id per route, like Discord's `X-RateLimit-Bucket`."""
    return hashlib.sha1(route_shape(route).encode(), usedforsecurity=False).hexdigest()[:16]


def _seconds(value: float) -> str:
    """Seconds with millisecond precision, rounded up so a client never retries early."""
    return f"{math.ceil(value * 1000) / 1000:.3f}"


@dataclass(frozen=True)
class RateLimitPolicy:
    """`limit` requests per `window` seconds, per route and major parameter."""

    limit: int = 50
    window: float = 1.0


# Discord publishes no per-route numbers and tells clients to read the headers
# (docs: topics/rate-limits); these are the buckets observed live that a client meets first.
# Message edits: about 5 per 5 s per channel, so a progress message edited faster than once
# a second gets 429s unless the client waits as the headers say.
ROUTE_POLICIES: dict[str, RateLimitPolicy] = {
    "PATCH /channels/{channel_id}/messages/{message_id}": RateLimitPolicy(5, 5.0),
}


@dataclass(frozen=True)
class BucketState:
    """Where one request left its bucket; rendered as Discord's rate-limit headers."""

    bucket: str
    limit: int
    remaining: int
    reset_at: float
    reset_after: float
    allowed: bool

    def headers(self) -> dict[str, str]:
        """The `X-RateLimit-*` headers Discord sends on every answer."""
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": _seconds(self.reset_at),
            "X-RateLimit-Reset-After": _seconds(self.reset_after),
            "X-RateLimit-Bucket": self.bucket,
        }


@dataclass
class _Window:
    count: int
    reset_at: float


class RateLimiter:
    """Fixed-window buckets keyed by route shape and major parameter."""

    def __init__(
        self,
        default: RateLimitPolicy,
        clock: Callable[[], float] = time.time,
        policies: dict[str, RateLimitPolicy] | None = None,
    ) -> None:
        self._default = default
        self._clock = clock
        self._policies = {route_shape(r): p for r, p in (policies or {}).items()}
        self._windows: dict[tuple[str, str], _Window] = {}
        self._lock = threading.Lock()

    def configure(self, route: str, policy: RateLimitPolicy) -> None:
        """Use `policy` for `route` from now on (existing windows are dropped)."""
        shape = route_shape(route)
        with self._lock:
            self._policies[shape] = policy
            for key in [k for k in self._windows if k[0] == shape]:
                del self._windows[key]

    def hit(self, route: str, major: str, *, count: bool = True) -> BucketState:
        """Count one request (unless `count` is False, to only look); `allowed` is False
        when the window is already used up."""
        shape = route_shape(route)
        policy = self._policies.get(shape, self._default)
        now = self._clock()
        with self._lock:
            window = self._windows.get((shape, major))
            if window is None or now >= window.reset_at - _RESET_GRACE:
                window = _Window(0, now + policy.window)
                self._windows[(shape, major)] = window
            allowed = window.count < policy.limit
            if allowed and count:
                window.count += 1
            remaining = max(policy.limit - window.count, 0)
            return BucketState(
                bucket=bucket_hash(shape),
                limit=policy.limit,
                remaining=remaining,
                reset_at=window.reset_at,
                reset_after=max(window.reset_at - now, 0.0),
                allowed=allowed,
            )


def rate_limited_headers(
    state: BucketState, retry_after: float, *, is_global: bool
) -> dict[str, str]:
    """Headers of a 429: bucket state, `Retry-After` (whole seconds), scope and `Via`."""
    headers = state.headers()
    headers["X-RateLimit-Remaining"] = "0"
    headers["X-RateLimit-Reset-After"] = _seconds(retry_after)
    headers["Retry-After"] = str(max(math.ceil(retry_after), 1))
    headers["X-RateLimit-Scope"] = "global" if is_global else "user"
    if is_global:
        headers["X-RateLimit-Global"] = "true"
    return headers


def rate_limited_body(retry_after: float, *, is_global: bool) -> dict[str, object]:
    """A 429 body (`RatelimitedResponse`): `message`, `retry_after`, `global`, `code`."""
    return {
        "message": RATE_LIMIT_MESSAGE,
        "retry_after": math.ceil(retry_after * 1000) / 1000,
        "global": is_global,
        "code": 0,
    }


@dataclass
class Fault:
    """A scripted answer for the next `times` requests to a route.

    `status=None` only delays the request, which then proceeds normally.
    """

    route: str
    status: int | None
    times: int = 1
    code: int = 0
    message: str = ""
    retry_after: float = 0.5
    is_global: bool = False
    via: bool = True
    delay: float = 0.0
    #: With `until` (a `time.monotonic()` deadline) the fault answers every matching
    #: request until then, whatever `times` says: "429s on edits for a minute".
    until: float | None = None
    shape: str = field(init=False)

    def __post_init__(self) -> None:
        self.shape = route_shape(self.route)


class FaultBook:
    """Pending faults, consumed first-in first-out per route."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> None:
        """Queue a fault; it applies to the next `fault.times` matching requests."""
        if fault.times < 1:
            raise ValueError("a fault must apply at least once")
        with self._lock:
            self._faults.append(fault)

    def take(self, route: str) -> Fault | None:
        """The fault for this request, if any, counting one use."""
        shape = route_shape(route)
        with self._lock:
            now = time.monotonic()
            for fault in list(self._faults):
                if fault.until is not None and now >= fault.until:
                    self._faults.remove(fault)
                    continue
                if fault.shape == shape:
                    if fault.until is not None:
                        return fault
                    fault.times -= 1
                    if fault.times == 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def clear(self) -> None:
        """Drop every pending fault."""
        with self._lock:
            self._faults.clear()
