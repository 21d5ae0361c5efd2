"""A trivial task that proves the harness: the real worker runs it and a killed worker's
attempt is re-queued by the engine onto a new worker."""

from __future__ import annotations

import asyncio
import os
from datetime import timedelta
from pathlib import Path

from hatchet_sdk import Context, Hatchet
from hatchet_sdk.runnables.workflow import Standalone

from workflows.contracts import SMOKE_ECHO, SmokeInput, SmokeOutput


def build_smoke(hatchet: Hatchet) -> Standalone[SmokeInput, SmokeOutput]:
    """Declare the smoke task on `hatchet`."""

    @hatchet.task(
        name=SMOKE_ECHO,
        input_validator=SmokeInput,
        execution_timeout=timedelta(minutes=3),
        retries=0,
    )
    async def smoke_echo(input: SmokeInput, ctx: Context) -> SmokeOutput:
        if input.journal:
            line = f"start pid={os.getpid()} retry={ctx.retry_count}\n"
            await asyncio.to_thread(_append, Path(input.journal), line)
        # Holding the slot on purpose: the chaos harness kills the worker in this window.
        await asyncio.sleep(input.hold_seconds)
        return SmokeOutput(echo=input.message, pid=os.getpid(), retry_count=ctx.retry_count)

    return smoke_echo


def _append(path: Path, line: str) -> None:
    with path.open("a") as journal:
        journal.write(line)
