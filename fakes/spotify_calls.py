"""Fault injection, rate limiting and the record of calls of the fake Spotify.

A mixin of `SpotifyState`: it shares the state's lock and clock.
"""

from __future__ import annotations

import math
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from typing import Literal

from fakes.spotify_model import ROUTES, CallRecord, Fault, FaultKind, RetryAfterWindow


class CallLog:
    """Injected faults, the per-app rolling window, latency, calls and 429 windows."""

    lock: threading.RLock
    clock: Callable[[], float]

    def _init_calls(self) -> None:
        self.latency = 0.0
        self.faults: list[Fault] = []
        self._calls: list[CallRecord] = []
        self._windows: list[RetryAfterWindow] = []
        self._rate_limit: tuple[int, float] | None = None
        self._admitted: defaultdict[str | None, deque[float]] = defaultdict(deque)
        self._peers: set[object] = set()

    def saw_connection(self, peer: object) -> None:
        """A call arrived over the client connection `peer` (its address and port)."""
        with self.lock:
            self._peers.add(peer)

    def connections(self) -> int:
        """How many client connections the recorded calls came over (kept-alive ones once)."""
        with self.lock:
            return len(self._peers)

    def inject(
        self,
        route: str,
        kind: FaultKind,
        times: int | None = 1,
        *,
        status: int = 503,
        retry_after: int = 1,
        seconds: float = 1.0,
        message: str | None = None,
        reason: str | None = None,
        user: str | None = None,
        skip: int = 0,
    ) -> Fault:
        """Make the next `times` calls of `route` (or "*") fail; None means until cleared.

        kind "429" answers with `Retry-After: retry_after`; "5xx" answers `status`; "delay"
        waits `seconds` then answers normally; "drop" applies the call, then closes the
        connection without answering; "stall" waits `seconds`, then closes the connection
        without applying anything. `user` limits the fault to one user's calls; `skip`
        lets that many matching calls through first (a fault at the Nth add). Faults are
        tried in the order they were injected and the first armed match wins, so an
        unlimited fault hides later ones on the same route until it is cleared.
        `reason` adds `error.reason`, which Spotify's spec has only in its player errors:
        the session's traffic check flags it on the routes the fake serves.
        """
        if route != "*" and route not in ROUTES:
            raise ValueError(f"unknown route {route!r}; known: {sorted(ROUTES)}")
        if kind == "5xx" and not 500 <= status <= 599:
            raise ValueError("a 5xx fault needs a status between 500 and 599")
        fault = Fault(
            route, kind, times, status, retry_after, seconds, message, reason, user, skip=skip
        )
        with self.lock:
            self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self.lock:
            self.faults.clear()

    def take_fault(self, route: str, user_id: str | None) -> Fault | None:
        """The first armed fault matching this call, consuming one of its `times`."""
        with self.lock:
            for fault in self.faults:
                if fault.route not in ("*", route) or fault.remaining == 0:
                    continue
                if fault.user is not None and fault.user != user_id:
                    continue
                if fault.skip > 0:
                    fault.skip -= 1
                    continue
                if fault.remaining is not None:
                    fault.remaining -= 1
                fault.fired += 1
                return fault
            return None

    def set_rate_limit(self, max_calls: int | None, window_seconds: float = 30.0) -> None:
        """Per-app rolling window over Web API calls (None switches it off)."""
        with self.lock:
            self._rate_limit = None if max_calls is None else (max_calls, window_seconds)
            self._admitted.clear()

    def set_latency(self, seconds: float) -> None:
        """Delay added before answering every call (for benchmarks)."""
        self.latency = seconds

    def admit(self, app_id: str | None, now: float) -> int | None:
        """Count a Web API call against its app's window; the Retry-After if over it."""
        with self.lock:
            if self._rate_limit is None:
                return None
            max_calls, window = self._rate_limit
            admitted = self._admitted[app_id]
            while admitted and admitted[0] <= now - window:
                admitted.popleft()
            if len(admitted) >= max_calls:
                return max(1, math.ceil(admitted[0] + window - now))
            admitted.append(now)
            return None

    def record(self, call: CallRecord) -> None:
        with self.lock:
            self._calls.append(call)

    def add_window(self, window: RetryAfterWindow) -> None:
        with self.lock:
            self._windows.append(window)

    @property
    def calls(self) -> list[CallRecord]:
        """Every call so far, in the order the fake finished them."""
        with self.lock:
            return list(self._calls)

    @property
    def retry_after_windows(self) -> list[RetryAfterWindow]:
        with self.lock:
            return list(self._windows)

    def count(
        self, route: str | None = None, user: str | None = None, status: int | None = None
    ) -> int:
        """Calls matching every given filter."""
        return len(self._matching(route, user, status))

    def _matching(
        self, route: str | None, user: str | None, status: int | None
    ) -> list[CallRecord]:
        return [
            c
            for c in self.calls
            if (route is None or c.route == route)
            and (user is None or c.user_id == user)
            and (status is None or c.status == status)
        ]

    def reset_calls(self) -> None:
        """Forget recorded calls and 429 windows (state and faults stay)."""
        with self.lock:
            self._calls.clear()
            self._windows.clear()
            self._peers.clear()

    def calls_inside_retry_after_windows(
        self, per: Literal["app", "user"] = "app", grace: float = 0.0
    ) -> list[CallRecord]:
        """Calls that arrived while a 429 sent to the same app (or user) said to wait.

        Only calls to the same service (Web API or Accounts) count. `grace` forgives calls
        arriving within that many seconds after the 429 (already in flight when it was sent).
        """
        windows, violations = self.retry_after_windows, []
        for call in self.calls:
            service = "api" if call.path.startswith("/v1/") else "accounts"
            for window in windows:
                if window.service != service or window.app_id != call.app_id:
                    continue
                if per == "user" and window.user_id != call.user_id:
                    continue
                if window.start + grace < call.at < window.end:
                    violations.append(call)
                    break
        return violations

    def wait_for_calls(
        self,
        count: int,
        route: str | None = None,
        user: str | None = None,
        timeout: float = 5.0,
    ) -> list[CallRecord]:
        """Poll until at least `count` matching calls were recorded; TimeoutError if not."""
        deadline = time.monotonic() + timeout
        while True:
            found = self._matching(route, user, None)
            if len(found) >= count:
                return found
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{len(found)} of {count} calls to {route or 'any route'}")
            time.sleep(0.005)
