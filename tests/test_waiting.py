"""`tests.waiting`: the suite's one polling helper returns the first truthy answer and fails
as an assertion (and a TimeoutError) naming what it waited for."""

from __future__ import annotations

import time
from itertools import count

import pytest

from tests.waiting import WaitTimedOut, async_wait_until, wait_until


def test_returns_the_first_truthy_answer() -> None:
    calls = count(1)
    assert wait_until(lambda: max(next(calls) - 2, 0), timeout=5, interval=0) == 1


def test_times_out_with_the_message_given_the_last_answer() -> None:
    started = time.monotonic()
    with pytest.raises(AssertionError, match=r"^still \[\] after all$") as failed:
        wait_until(list, timeout=0.2, interval=0.01, message=lambda last: f"still {last} after all")
    assert isinstance(failed.value, TimeoutError) and isinstance(failed.value, WaitTimedOut)
    assert 0.2 <= time.monotonic() - started < 2


def test_the_predicate_is_asked_at_least_once_even_with_no_time() -> None:
    assert wait_until(lambda: "yes", timeout=0) == "yes"
    with pytest.raises(WaitTimedOut, match="last answer: 0"):
        wait_until(lambda: 0, timeout=0)


async def test_async_awaits_coroutine_predicates_and_plain_ones() -> None:
    calls = count(1)

    async def third_time() -> int | None:
        n = next(calls)
        return n if n >= 3 else None

    assert await async_wait_until(third_time, timeout=5, interval=0) == 3
    assert await async_wait_until(lambda: {"k": 1}, timeout=0) == {"k": 1}

    async def nothing() -> None:
        return None

    with pytest.raises(WaitTimedOut, match="never"):
        await async_wait_until(nothing, timeout=0.1, interval=0.01, message="never")
