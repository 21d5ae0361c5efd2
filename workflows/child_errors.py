"""How a durable parent runs a child, and what it tells the member when the child gave up.

Both parents (share and import) run every child through `run_paced`: a child that met a
429 returns its Retry-After instead of failing, the parent waits it out durably (its own
way: the import may pause visibly) and asks again, a bounded number of times.

Errors keep their class: a child's refusal written for the member is shown as it is; a
child that ran out of retries on Spotify's transient failures says so; a bug is logged with
a reference and shown as ours, never as the member's fault; and a hiccup of the engine
connection while spawning or awaiting a child is retried, not turned into a failed import.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import timedelta
from typing import Any, TypeVar

from hatchet_sdk import DurableContext, NonRetryableException
from hatchet_sdk.exceptions import (
    FailedTaskRunExceptionGroup,
    NonDeterminismError,
    TaskRunError,
)
from hatchet_sdk.runnables.workflow import Standalone
from pydantic import BaseModel

from music.errors import RateLimited, Transient

log = logging.getLogger(__name__)

Out = TypeVar("Out", bound=BaseModel)
Paced = TypeVar("Paced", bound="ChildResult")

#: Spawning or awaiting a child failed outside the child (engine restarting, gRPC blip):
#: tried again this many times, waiting 1, 2, 4 … (at most 30) seconds durably in between.
ENGINE_RETRIES = 6

#: Exception classes of a child that mean "Spotify kept failing", not "our bug".
_SERVICE_ERRORS = {
    Transient.__name__,
    RateLimited.__name__,
    "Timeout",
    "TimeoutError",
    "ConnectionError",
    "ReadTimeout",
    "ConnectTimeout",
}


class EngineUnavailable(Exception):
    """The engine could not run a child even after `ENGINE_RETRIES` tries."""


class ChildResult(BaseModel):
    """A child's answer when Spotify said 429: the parent waits, then asks again."""

    retry_after: float | None = None
    reason: str | None = None


@asynccontextmanager
async def _nothing() -> AsyncIterator[None]:
    yield


async def run_paced(
    ctx: DurableContext,
    task: Standalone[Any, Paced],
    payload: BaseModel,
    key: str,
    *,
    waits: int,
    wait: Callable[[float, str | None], Awaitable[None]],
    failed: Callable[[str], Exception],
    gave_up: str,
    slowed: str,
    again: Callable[[BaseModel], BaseModel] = lambda payload: payload,
    around: Callable[[], AbstractAsyncContextManager[None]] = _nothing,
    after: Callable[[Paced], Awaitable[None]] | None = None,
) -> Paced:
    """Run `task` until it answers without a Retry-After, waiting each one out with `wait`
    (durably), at most `waits` times; `failed(text)` is raised for the member when the
    child gave up (`gave_up`: it ran out of retries on Spotify's failures) or Spotify kept
    asking to slow down (`slowed`).

    `again` adapts the payload of a try after a 429 (an add re-checks what landed);
    `around` is entered while each try runs (the import's progress ticker); `after` sees
    every answer first and may raise to stop (a cancelled or superseded import).
    """
    for attempt in range(waits):
        if attempt:
            payload = again(payload)
        try:
            async with around():
                result = await run_child(ctx, task, payload, f"{key}-{attempt}")
        except (FailedTaskRunExceptionGroup, TaskRunError, EngineUnavailable) as exc:
            raise failed(child_failure(exc, gave_up)) from exc
        if after is not None:
            await after(result)
        if result.retry_after is None:
            return result
        await wait(result.retry_after, result.reason)
    raise failed(slowed)


async def run_child(
    ctx: DurableContext, task: Standalone[Any, Out], payload: BaseModel, child_key: str
) -> Out:
    """Run `task` as a child and return its output; the child's own failure propagates.

    The same `child_key` is used on every try, so a spawn that did reach the engine is not
    run twice: the engine hands back the child it already has.
    """
    for attempt in range(ENGINE_RETRIES + 1):
        try:
            return await task.aio_run(payload, child_key=child_key)
        except (FailedTaskRunExceptionGroup, TaskRunError, NonDeterminismError):
            raise
        except Exception as exc:
            if attempt == ENGINE_RETRIES:
                raise EngineUnavailable(str(exc)) from exc
            wait = min(2.0**attempt, 30.0)
            log.warning(
                "child %s: engine call failed (%r); trying again in %.0fs", child_key, exc, wait
            )
            await ctx.aio_sleep_for(timedelta(seconds=wait))
    raise AssertionError("unreachable")


def child_failure(exc: Exception, fallback: str) -> str:
    """What the member reads when a child gave up.

    Its NonRetryableException message (written for the member) as it is; `fallback` when
    it ran out of retries on Spotify's transient failures; otherwise a bug of ours: logged
    in full with a reference the member can quote.
    """
    if isinstance(exc, EngineUnavailable):
        log.error("the engine could not run a child: %s", exc)
        return (
            "The workflow engine was unreachable for a while (our side, not yours); "
            "use /retry to carry on where it stopped."
        )
    errors = exc.exceptions if isinstance(exc, FailedTaskRunExceptionGroup) else [exc]
    for error in errors:
        if isinstance(error, TaskRunError) and error.exc_type == NonRetryableException.__name__:
            return error.exc
    if all(isinstance(e, TaskRunError) and e.exc_type in _SERVICE_ERRORS for e in errors):
        log.warning("child task ran out of retries: %s", exc)
        return fallback
    reference = next(
        (
            e.task_run_external_id
            for e in errors
            if isinstance(e, TaskRunError) and e.task_run_external_id
        ),
        None,
    )
    log.error("child task failed on our side (reference %s): %s", reference, exc)
    return (
        "Something went wrong on our side"
        + (f" (reference {reference[:8]})" if reference else "")
        + "; use /retry to carry on where it stopped."
    )
