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
from workflows.child_errors import EngineUnavailable, child_failure, run_child

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
