"""Starts workflow runs through typed stubs, so the bot never imports worker code."""

from __future__ import annotations

from hatchet_sdk import Hatchet
from hatchet_sdk.rate_limit import RateLimitDuration

from workflows.contracts import (
    IMPORT_PLAYLIST,
    SHARE_PLAYLIST,
    ImportInput,
    ImportOutput,
    ShareInput,
    ShareOutput,
    member_rate_limit_key,
)


class WorkflowDispatcher:
    """The bot's only door into Hatchet."""

    def __init__(self, hatchet: Hatchet) -> None:
        self._hatchet = hatchet
        self._share = hatchet.stubs.task(
            name=SHARE_PLAYLIST, input_validator=ShareInput, output_validator=ShareOutput
        )
        self._import = hatchet.stubs.task(
            name=IMPORT_PLAYLIST, input_validator=ImportInput, output_validator=ImportOutput
        )

    async def share_playlist(self, payload: ShareInput, *, guild_id: int, user_id: int) -> str:
        """Dispatch a share; guild and member travel as metadata the dashboard can filter on."""
        ref = await self._share.aio_run(
            payload,
            wait_for_result=False,
            additional_metadata={
                "guild_id": str(guild_id),
                "user_id": str(user_id),
                "catalog_playlist_id": str(payload.catalog_playlist_id),
            },
        )
        return str(ref.workflow_run_id)

    async def import_playlist(self, payload: ImportInput, *, guild_id: int) -> str:
        """Dispatch an import (or its retry); the run is filterable by guild, member, import."""
        ref = await self._import.aio_run(
            payload,
            wait_for_result=False,
            additional_metadata={
                "guild_id": str(guild_id),
                "user_id": str(payload.discord_user_id),
                "import_id": str(payload.import_id),
            },
        )
        return str(ref.workflow_run_id)

    async def declare_member(self, discord_user_id: int, per_minute: int) -> None:
        """Create the member's rate-limit key now, at /link, not at their first task.

        The engine's scheduler sees a new key only at its next refresh of rate limits (up to
        about 2 s), so a key first met by a task makes that task wait for it. An existing
        key keeps what is left of its bucket (the engine never refills on a put).
        """
        await self._hatchet.rate_limits.aio_put(
            member_rate_limit_key(discord_user_id), per_minute, RateLimitDuration.MINUTE
        )

    async def cancel_run(self, run_id: str) -> None:
        """Ask the engine to cancel a run; its tasks see it at their next step boundary."""
        await self._hatchet.runs.aio_cancel(run_id)
