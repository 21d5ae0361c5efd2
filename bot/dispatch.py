"""Starts workflow runs through typed stubs, so the bot never imports worker code."""

from __future__ import annotations

from hatchet_sdk import Hatchet

from workflows.contracts import SHARE_PLAYLIST, ShareInput, ShareOutput


class WorkflowDispatcher:
    """The bot's only door into Hatchet."""

    def __init__(self, hatchet: Hatchet) -> None:
        self._share = hatchet.stubs.task(
            name=SHARE_PLAYLIST, input_validator=ShareInput, output_validator=ShareOutput
        )

    async def share_playlist(self, payload: ShareInput, *, guild_id: int, user_id: int) -> str:
        """Dispatch a share; guild and member travel as metadata the dashboard can filter on."""
        ref = await self._share.aio_run(
            payload,
            wait_for_result=False,
            additional_metadata={"guild_id": str(guild_id), "user_id": str(user_id),
                                 "catalog_playlist_id": str(payload.catalog_playlist_id)},
        )
        return str(ref.workflow_run_id)
