"""`ledger-retention`: remove the per-track ledger of imports that finished long ago.

An import's ledger holds one row per track (a 10,000-track playlist, 10,000 rows) and is
only needed while the import can still run or be retried. After `LEDGER_RETENTION_DAYS`
the rows go, in bounded chunks (one short transaction each, at most `MAX_CHUNKS` a run);
the import itself, its counters and its playlist link stay, and a /retry of it is refused
("import it again").
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hatchet_sdk import Context, Hatchet
from hatchet_sdk.runnables.workflow import Standalone
from pydantic import BaseModel

from mixtape.settings import Settings
from storage import imports
from storage.types import utcnow
from workflows.lifespan import deps

LEDGER_RETENTION = "ledger-retention"
CHUNK_ROWS = 2_000
MAX_CHUNKS = 500  # a million rows a run at most; the next run picks up the rest


class RetentionOutput(BaseModel):
    deleted: int


def build_ledger_retention(
    hatchet: Hatchet, settings: Settings
) -> Standalone[Any, RetentionOutput]:
    """Declare the hourly sweep."""

    @hatchet.task(
        name=LEDGER_RETENTION,
        on_crons=["17 * * * *"],
        execution_timeout=timedelta(minutes=30),
        retries=2,
    )
    async def prune_ledgers(input: Any, ctx: Context) -> RetentionOutput:
        d = deps(ctx)
        cutoff = utcnow() - timedelta(days=settings.ledger_retention_days)
        deleted = 0
        for _ in range(MAX_CHUNKS):
            async with d.sessions.begin() as s:
                rows = await imports.prune_finished_ledgers(
                    s, finished_before=cutoff, limit=CHUNK_ROWS
                )
            deleted += rows
            if rows < CHUNK_ROWS:
                break
        return RetentionOutput(deleted=deleted)

    return prune_ledgers
