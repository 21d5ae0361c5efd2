"""`import-watchdog`: hand stuck imports to a fresh run.

A run can get stuck outside our code: the engine restarting while a child's result was in
flight has left the durable parent evicted and never restored (seen with v0.105.0). The
ledger makes a fresh run safe (it reconciles, then adds only what is missing), so every
minute the watchdog cancels a run whose import has been quiet too long and starts another.
Children of the old run stop at their next step, seeing they no longer own the import.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from hatchet_sdk import ConcurrencyExpression, ConcurrencyLimitStrategy, Context, Hatchet
from hatchet_sdk.runnables.workflow import Standalone
from pydantic import BaseModel

from mixtape.settings import Settings
from storage import imports
from storage.types import utcnow
from workflows.contracts import ImportInput
from workflows.lifespan import deps

log = logging.getLogger(__name__)

WATCHDOG = "import-watchdog"


class WatchdogOutput(BaseModel):
    restarted: list[int]


def build_watchdog(
    hatchet: Hatchet, settings: Settings, import_playlist: Standalone[ImportInput, Any]
) -> Standalone[Any, WatchdogOutput]:
    """Declare the watchdog, which restarts runs of `import_playlist`."""

    @hatchet.task(
        name=WATCHDOG,
        on_crons=["* * * * *"],
        execution_timeout=timedelta(minutes=2),
        # One watchdog at a time: two at once (the cron and one started by hand) would each
        # start a run for the same import, and the newer run cancels the older (one live
        # run per import) while the loser of the claim below cancels its own: both gone.
        concurrency=ConcurrencyExpression(
            expression="'watchdog'",
            max_runs=1,
            limit_strategy=ConcurrencyLimitStrategy.GROUP_ROUND_ROBIN,
        ),
    )
    async def import_watchdog(input: Any, ctx: Context) -> WatchdogOutput:
        d = deps(ctx)
        quiet_since = utcnow() - timedelta(seconds=settings.import_stall_seconds)
        async with d.sessions.begin() as s:
            stalled = await imports.list_stalled_imports(s, quiet_since=quiet_since)
        restarted = []
        for row in stalled:
            old = row.workflow_run_id
            ref = await import_playlist.aio_run(
                ImportInput(import_id=row.id, discord_user_id=row.discord_user_id),
                wait_for_result=False,
                additional_metadata={
                    "guild_id": str(row.guild_id),
                    "user_id": str(row.discord_user_id),
                    "import_id": str(row.id),
                    "restarted_from": old or "",
                },
            )
            async with d.sessions.begin() as s:
                claimed = await imports.replace_workflow_run_id(s, row.id, old, ref.workflow_run_id)
            if not claimed:  # another watchdog, or a /retry, got there first
                await d.hatchet.runs.aio_cancel(ref.workflow_run_id)
                continue
            if old:
                try:
                    await d.hatchet.runs.aio_cancel(old)
                except Exception:
                    log.exception("import %s: cancelling stuck run %s failed", row.id, old)
            log.warning(
                "import %s was quiet since %s: run %s replaced by %s",
                row.id,
                row.updated_at,
                old,
                ref.workflow_run_id,
            )
            restarted.append(row.id)
        return WatchdogOutput(restarted=restarted)

    return import_watchdog
