"""Spotify failures, classified once, here, so workflows decide by kind and not by status."""

from __future__ import annotations


class MusicServiceError(Exception):
    """Base of every classified failure of a music service call."""


class RateLimited(MusicServiceError):
    """429: wait `retry_after` seconds (durably), then try again; never retry sooner."""

    def __init__(self, retry_after: float, reason: str | None = None) -> None:
        super().__init__(f"rate limited for {retry_after:g}s" + (f" ({reason})" if reason else ""))
        self.retry_after = retry_after
        self.reason = reason


class Transient(MusicServiceError):
    """Worth retrying with backoff: 5xx, timeouts, dropped connections.

    `ambiguous` is true when the request may have been applied (it was sent and no answer
    came back), so a write must re-read the target before it is retried.
    """

    def __init__(self, message: str, *, ambiguous: bool = False) -> None:
        super().__init__(message)
        self.ambiguous = ambiguous


class Permanent(MusicServiceError):
    """Retrying will not help: bad request, not found, forbidden."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class AuthExpired(Permanent):
    """The member's Spotify grant was revoked or the refresh token is no longer valid."""
