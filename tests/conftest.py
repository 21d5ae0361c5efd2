"""Session-wide harness: the local stack (private PostgreSQL + pinned Hatchet engine) and
real worker processes.

The stack starts lazily, only for tests that ask for it, unless the environment already
names one (HATCHET_CLIENT_TOKEN and MIXTAPE_TEST_PG_URL set by `python -m mixtape.stack`).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from mixtape.stack import running_stack
from mixtape.worker_process import WorkerProcess

_STACK_KEYS = ("HATCHET_CLIENT_TOKEN", "MIXTAPE_TEST_PG_URL")


@pytest.fixture(scope="session")
def stack_env() -> Iterator[dict[str, str]]:
    """Client settings of a running stack, exported to this process's environment."""
    namespace = {"HATCHET_CLIENT_NAMESPACE": f"t{uuid.uuid4().hex[:8]}_"}
    if all(os.environ.get(key) for key in _STACK_KEYS):
        prefixes = ("HATCHET_", "MIXTAPE_")
        env = {key: value for key, value in os.environ.items() if key.startswith(prefixes)}
        env.update(namespace)
        os.environ.update(namespace)
        yield env
        return
    with running_stack() as info:
        env = {**info.client_env(), **namespace}
        saved = {key: os.environ.get(key) for key in env}
        os.environ.update(env)
        try:
            yield env
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


@pytest.fixture
def start_worker(
    stack_env: dict[str, str], tmp_path: Path
) -> Iterator[Callable[..., WorkerProcess]]:
    """Start real worker processes; all of them are stopped after the test."""
    workers: list[WorkerProcess] = []

    def start(extra_env: dict[str, str] | None = None) -> WorkerProcess:
        defaults = {
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'worker.db'}",
            "TOKEN_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        }
        env = {**os.environ, **defaults, **stack_env, **(extra_env or {})}
        worker = WorkerProcess(env=env, log_path=tmp_path / f"worker-{len(workers)}.log")
        workers.append(worker)
        return worker.start()

    yield start
    for worker in workers:
        worker.stop()
