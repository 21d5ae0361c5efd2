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
from workflows.contracts import MEMBER_RATE_LIMIT_PREFIX

SPOTIFY_APP_KEY = "spotify-app"


def spotify_app_limit(units: int | str = 1) -> RateLimit:
    """The app-wide bucket, charged `units` (an int, or a CEL expression over the input)."""
    return RateLimit(static_key=SPOTIFY_APP_KEY, units=units)


def spotify_member_limit(input_field: str, per_minute: int, units: int | str = 1) -> RateLimit:
    """A per-member bucket keyed by a field of the task's input (`member_rate_limit_key`)."""
    return RateLimit(
        dynamic_key=f"'{MEMBER_RATE_LIMIT_PREFIX}' + string(input.{input_field})",
        units=units,
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


def spotify_step(
    settings: Settings, *, member_field: str, units: int | str = 1, calls: int = 1
) -> StepOptions:
    """Options of a step that makes at most `calls` Spotify calls.

    Each call is charged to the app-wide and the member's bucket: `units` is what one run of
    the step costs (an int, or a CEL expression over its input when that varies, such as a
    page count), so a step that pages is paced page by page. Transient errors retry with
    exponential backoff (bounded); the timeout follows from the calls it may make.
    """
    return StepOptions(
        retries=settings.spotify_transient_retries,
        backoff_factor=2.0,
        backoff_max_seconds=settings.spotify_backoff_max_seconds,
        execution_timeout=step_timeout(settings, calls),
        rate_limits=[
            spotify_app_limit(units),
            spotify_member_limit(member_field, settings.spotify_member_calls_per_minute, units),
        ],
    )


def step_timeout(settings: Settings, calls: int) -> timedelta:
    """Room for `calls` calls that each take up to the HTTP timeout (connect, then read),
    plus the database work around them; never below 30 s."""
    per_call = settings.http_timeout_seconds * 2
    return timedelta(seconds=max(30.0, calls * per_call + 10.0))
