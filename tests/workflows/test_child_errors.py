"""Errors keep their class: the member's, Spotify's, the engine's and ours read differently."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any, cast

import pytest
from hatchet_sdk import DurableContext, NonRetryableException
from hatchet_sdk.exceptions import FailedTaskRunExceptionGroup, TaskRunError
from pydantic import BaseModel

from music.spotify_errors import classify
from workflows.child_errors import (
    ChildResult,
    EngineUnavailable,
    child_failure,
    run_child,
    run_paced,
)

FALLBACK = "Spotify kept failing; use /retry."


def _error(exc_type: str, text: str = "boom") -> TaskRunError:
    return TaskRunError(text, exc_type, "trace", "0123456789abcdef")


def test_a_refusal_written_for_the_member_is_shown_as_it_is() -> None:
    error = _error(NonRetryableException.__name__, "Your Spotify link expired; run /link.")
    assert child_failure(error, FALLBACK) == "Your Spotify link expired; run /link."


def test_spotifys_transient_failures_read_as_spotifys() -> None:
    group = FailedTaskRunExceptionGroup("failed", [_error("Transient"), _error("Transient")])
    assert child_failure(group, FALLBACK) == FALLBACK


def test_a_bug_reads_as_ours_with_a_reference_and_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR):
        text = child_failure(_error("KeyError", "'uri'"), FALLBACK)
    assert "on our side" in text and "01234567" in text
    assert "link" not in text and "Spotify" not in text
    assert "01234567" in caplog.text and "KeyError" in caplog.text


def test_an_unreachable_engine_reads_as_ours() -> None:
    assert "our side" in child_failure(EngineUnavailable("UNAVAILABLE"), FALLBACK)


def test_a_bug_inside_a_spotify_call_is_not_classified_as_spotifys() -> None:
    assert classify(KeyError("uri")) is None
    assert classify(AttributeError("x")) is None


class _Out(BaseModel):
    value: int


class _FlakyEngine:
    """A task whose spawn fails `failures` times the way a gRPC blip does, then answers."""

    def __init__(self, failures: int) -> None:
        self.failures, self.keys = failures, []

    async def aio_run(self, payload: BaseModel, *, child_key: str) -> _Out:
        self.keys.append(child_key)
        if len(self.keys) <= self.failures:
            raise ConnectionError("UNAVAILABLE: engine restarting")
        return _Out(value=1)


class _Sleeps:
    def __init__(self) -> None:
        self.slept: list[timedelta] = []

    async def aio_sleep_for(self, duration: timedelta) -> None:
        self.slept.append(duration)


async def test_an_engine_hiccup_is_retried_with_the_same_child_key() -> None:
    task, ctx = _FlakyEngine(failures=3), _Sleeps()
    out = await run_child(cast(DurableContext, ctx), cast(Any, task), _Out(value=0), "batch-1")
    assert out == _Out(value=1)
    assert task.keys == ["batch-1"] * 4
    assert ctx.slept == [timedelta(seconds=s) for s in (1, 2, 4)]


async def test_an_engine_that_stays_away_ends_in_a_bounded_failure() -> None:
    task, ctx = _FlakyEngine(failures=100), _Sleeps()
    with pytest.raises(EngineUnavailable):
        await run_child(cast(DurableContext, ctx), cast(Any, task), _Out(value=0), "batch-1")
    assert len(task.keys) == 7 and max(ctx.slept) <= timedelta(seconds=30)


async def test_a_childs_own_failure_is_not_retried_by_the_parent() -> None:
    class Failing:
        calls = 0

        async def aio_run(self, payload: BaseModel, *, child_key: str) -> _Out:
            Failing.calls += 1
            raise _error("Transient")

    with pytest.raises(TaskRunError):
        await run_child(cast(DurableContext, _Sleeps()), cast(Any, Failing()), _Out(value=0), "k")
    assert Failing.calls == 1


class _Stopped(Exception):
    pass


class _Limited(ChildResult):
    value: int = 0


class _Answers:
    """A child that answers each try from a script: Retry-After seconds, or a value."""

    def __init__(self, *answers: _Limited) -> None:
        self.answers, self.tries = list(answers), []

    async def aio_run(self, payload: BaseModel, *, child_key: str) -> _Limited:
        self.tries.append((child_key, payload))
        return self.answers.pop(0)


async def test_run_paced_waits_out_each_retry_after_then_returns_the_answer() -> None:
    task = _Answers(_Limited(retry_after=3, reason="x"), _Limited(retry_after=5), _Limited(value=7))
    waited: list[tuple[float, str | None]] = []
    seen: list[_Limited] = []

    async def wait(seconds: float, reason: str | None) -> None:
        waited.append((seconds, reason))

    async def after(result: _Limited) -> None:
        seen.append(result)

    out = await run_paced(
        cast(DurableContext, _Sleeps()),
        cast(Any, task),
        _Out(value=0),
        "add",
        waits=5,
        wait=wait,
        failed=_Stopped,
        gave_up="gave up",
        slowed="slowed",
        again=lambda p: _Out(value=cast(_Out, p).value + 1),
        after=after,
    )

    assert out == _Limited(value=7) and len(seen) == 3
    assert waited == [(3, "x"), (5, None)]
    # A fresh child key per try (the engine would hand back the 429'd child otherwise),
    # and each try after a 429 gets the adapted payload.
    assert task.tries == [
        ("add-0", _Out(value=0)),
        ("add-1", _Out(value=1)),
        ("add-2", _Out(value=2)),
    ]


async def test_run_paced_is_bounded_and_speaks_for_the_member() -> None:
    async def wait(seconds: float, reason: str | None) -> None:
        return None

    async def paced(task: object) -> None:
        await run_paced(
            cast(DurableContext, _Sleeps()),
            cast(Any, task),
            _Out(value=0),
            "k",
            waits=3,
            wait=wait,
            failed=_Stopped,
            gave_up="gave up",
            slowed="slowed",
        )

    limited = _Answers(*[_Limited(retry_after=1) for _ in range(3)])
    with pytest.raises(_Stopped, match="slowed"):
        await paced(limited)
    assert len(limited.tries) == 3

    class Failing:
        async def aio_run(self, payload: BaseModel, *, child_key: str) -> _Limited:
            raise _error("Transient")

    with pytest.raises(_Stopped, match="gave up"):
        await paced(Failing())
