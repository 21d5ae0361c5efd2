"""Hatchet rate limits that pace Spotify calls so 429s stay rare.

One static key for the whole Spotify app (Spotify counts per app over a rolling window) and
one dynamic key per member, so one big import cannot starve everyone else.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TypedDict

from hatchet_sdk import Hatchet
from hatchet_sdk.rate_limit import RateLimit, RateLimitDuration

from mixtape.settings import Settings

SPOTIFY_APP_KEY = "spotify-app"


def spotify_app_limit() -> RateLimit:
    return RateLimit(static_key=SPOTIFY_APP_KEY, units=1)


def spotify_member_limit(input_field: str, per_minute: int) -> RateLimit:
    """A per-member bucket keyed by a field of the task's input."""
    return RateLimit(
        dynamic_key=f"'spotify-member-' + string(input.{input_field})",
        units=1,
        limit=per_minute,
        duration=RateLimitDuration.MINUTE,
    )


async def declare_rate_limits(hatchet: Hatchet, settings: Settings) -> None:
    """Static keys must exist before a task that uses them is scheduled."""
    await hatchet.rate_limits.aio_put(
        SPOTIFY_APP_KEY, settings.spotify_app_calls_per_minute, RateLimitDuration.MINUTE
    )


class StepOptions(TypedDict):
    """Task options every Spotify-calling step shares."""

    retries: int
    backoff_factor: float
    backoff_max_seconds: int
    execution_timeout: timedelta
    rate_limits: list[RateLimit]


def spotify_step(settings: Settings, *, member_field: str) -> StepOptions:
    """Transient errors retry with exponential backoff (bounded); calls are paced per app
    and per member (the member named by `member_field` of the task's input)."""
    return StepOptions(
        retries=settings.spotify_transient_retries,
        backoff_factor=2.0,
        backoff_max_seconds=settings.spotify_backoff_max_seconds,
        execution_timeout=timedelta(seconds=max(30.0, settings.http_timeout_seconds * 3)),
        rate_limits=[
            spotify_app_limit(),
            spotify_member_limit(member_field, settings.spotify_member_calls_per_minute),
        ],
    )
