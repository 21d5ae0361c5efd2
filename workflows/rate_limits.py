"""Hatchet rate limits that pace Spotify calls so 429s stay rare.

One static key for the whole Spotify app (Spotify counts per app over a rolling window) and
one dynamic key per member, so one big import cannot starve everyone else.
"""

from __future__ import annotations

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
