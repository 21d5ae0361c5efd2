"""The harness itself, on the real engine: version pin, a real worker run, and recovery of a
task whose worker was SIGKILLed."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from devtools.stack import pinned_engine_tag
from devtools.worker_process import WorkerProcess
from tests.waiting import wait_until
from workflows.client import create_hatchet
from workflows.contracts import SmokeInput, SmokeOutput
from workflows.smoke import build_smoke

pytestmark = pytest.mark.engine


def test_engine_reports_the_pinned_tag(stack_env: dict[str, str]) -> None:
    """The SDK reads this at worker start; an unpinned build would drop it into legacy mode."""
    url = f"{stack_env['MIXTAPE_HATCHET_HEALTH_URL']}/version"
    with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310
        assert json.loads(resp.read())["version"] == pinned_engine_tag()


async def test_worker_runs_a_task(start_worker: Callable[..., WorkerProcess]) -> None:
    worker = start_worker()
    smoke = build_smoke(create_hatchet())
    result = await smoke.aio_run(SmokeInput(message="hello"))
    assert result == SmokeOutput(echo="hello", pid=worker.pid, retry_count=0)


async def test_killed_worker_task_finishes_on_a_new_worker(
    start_worker: Callable[..., WorkerProcess], tmp_path: Path
) -> None:
    journal = tmp_path / "journal.txt"
    first = start_worker()
    smoke = build_smoke(create_hatchet())
    ref = await smoke.aio_run(
        SmokeInput(message="survivor", hold_seconds=4, journal=str(journal)),
        wait_for_result=False,
    )
    _wait_for(lambda: journal.exists() and "start" in journal.read_text(), 60, "first attempt")
    first.kill()
    killed_at = time.monotonic()
    second = start_worker()

    result = SmokeOutput.model_validate(await ref.aio_result())

    reassigned_after = time.monotonic() - killed_at
    attempts = journal.read_text().splitlines()
    assert result.echo == "survivor"
    assert result.pid == second.pid != first.pid
    assert len(attempts) == 2, attempts
    assert f"pid={first.pid}" in attempts[0] and f"pid={second.pid}" in attempts[1]
    print(f"task reassigned and finished {reassigned_after:.1f}s after SIGKILL")


def _wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    wait_until(check, timeout=timeout, interval=0.1, message=f"timed out waiting for {what}")
