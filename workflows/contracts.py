"""Workflow names and their id-only inputs: what the bot and the worker agree on.

Triggering processes import this module, never task code, and start runs through typed
stubs (`hatchet.stubs.task`), so the bot does not load worker dependencies.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field, PlainSerializer

#: A Discord id. Sent as a string: run input is re-encoded by the engine through float64,
#: which holds integers exactly only up to 2**53, and snowflakes are larger.
Snowflake = Annotated[int, PlainSerializer(str, return_type=str, when_used="json")]

#: Each member's Spotify calls are paced by a Hatchet rate limit of this prefix and their
#: Discord id (the engine's keys are tenant-wide, not per namespace).
MEMBER_RATE_LIMIT_PREFIX = "spotify-member-"


def member_rate_limit_key(discord_user_id: int) -> str:
    """The member's rate-limit key, as the tasks' dynamic key renders it."""
    return f"{MEMBER_RATE_LIMIT_PREFIX}{discord_user_id}"


SMOKE_ECHO = "smoke-echo"


class SmokeInput(BaseModel):
    """Input of the harness smoke task: proves a worker runs work and survives a kill."""

    message: str = Field(max_length=200)
    hold_seconds: float = Field(default=0.0, ge=0, le=120)
    journal: str | None = Field(default=None, description="File each attempt appends a line to")


class SmokeOutput(BaseModel):
    """What the smoke task saw, so a test can tell attempts apart."""

    echo: str
    pid: int
    retry_count: int


SHARE_PLAYLIST = "share-playlist"


class ShareInput(BaseModel):
    """Read a member's playlist into the catalog entry the bot already created.

    The sharer is named here, not read from the entry: a re-share by another member who can
    read the playlist keeps the entry's first owner but must read with the new sharer's grant.
    """

    catalog_playlist_id: int
    sharer_discord_user_id: Snowflake
    channel_id: Snowflake
    message_id: Snowflake | None = None
    #: A re-read because the source changed (following): it says something in the channel
    #: only when the songs changed, and nothing at all without a channel (0).
    refresh: bool = False


class ShareOutput(BaseModel):
    """The outcome the progress message summarises."""

    catalog_playlist_id: int
    track_count: int
    skipped: dict[str, int]
    status: str


IMPORT_PLAYLIST = "import-playlist"


class ImportInput(BaseModel):
    """Run (or resume) one import; everything else is read from the import's row and ledger.

    The member travels in the input because Hatchet keys the per-member rate limit and
    concurrency on it.
    """

    import_id: int
    discord_user_id: Snowflake


class ImportOutput(BaseModel):
    """Final counts, as the ledger has them."""

    import_id: int
    status: str
    added: int
    already_present: int
    not_found: int
    failed: int
