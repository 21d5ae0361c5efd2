"""The one way tests wait for something to become true: `wait_until` (blocking) and
`async_wait_until` (for coroutines), instead of a hand-written deadline loop per test.

    row = await async_wait_until(lambda: finished(import_id), timeout=60,
                                 message=f"import {import_id} did not finish")

The predicate is called at once and then every `interval` seconds until it returns
something truthy, which is returned; an async predicate (or one returning an awaitable)
is awaited. Once `timeout` seconds have passed with only falsy answers, `WaitTimedOut`
is raised with `message` (a string, or a callable given the last answer, for messages
that say what was seen instead). `WaitTimedOut` is both an `AssertionError`, so a test
fails rather than errors, and a `TimeoutError`, for callers that catch that.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, overload

T = TypeVar("T")

Message = str | Callable[[Any], str]


class WaitTimedOut(AssertionError, TimeoutError):
    """What `wait_until` raises when its predicate stayed falsy for `timeout` seconds."""


def _fail(message: Message | None, timeout: float, last: Any) -> WaitTimedOut:
    if callable(message):
        text = message(last)
    elif message is not None:
        text = message
    else:
        text = f"condition not met within {timeout:g} s (last answer: {last!r})"
    return WaitTimedOut(text)


def wait_until(
    predicate: Callable[[], T | None],
    *,
    timeout: float,
    interval: float = 0.05,
    message: Message | None = None,
) -> T:
    """Poll `predicate` until it answers something truthy, and return that answer."""
    deadline = time.monotonic() + timeout
    while True:
        answer = predicate()
        if answer:
            return answer
        if time.monotonic() >= deadline:
            raise _fail(message, timeout, answer)
        time.sleep(interval)


@overload
async def async_wait_until(
    predicate: Callable[[], Awaitable[T | None]],
    *,
    timeout: float,  # noqa: ASYNC109 -- a polling deadline, not a cancellation
    interval: float = ...,
    message: Message | None = ...,
) -> T: ...


@overload
async def async_wait_until(
    predicate: Callable[[], T | None],
    *,
    timeout: float,  # noqa: ASYNC109
    interval: float = ...,
    message: Message | None = ...,
) -> T: ...


async def async_wait_until(
    predicate: Callable[[], Any],
    *,
    timeout: float,  # noqa: ASYNC109
    interval: float = 0.05,
    message: Message | None = None,
) -> Any:
    """`wait_until` for the event loop: sleeps with asyncio and awaits an async predicate."""
    deadline = time.monotonic() + timeout
    while True:
        answer = predicate()
        if inspect.isawaitable(answer):
            answer = await answer
        if answer:
            return answer
        if time.monotonic() >= deadline:
            raise _fail(message, timeout, answer)
        await asyncio.sleep(interval)
