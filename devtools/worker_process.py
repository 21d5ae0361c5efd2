"""Run a worker (`python -m workflows`, or a benchmark's) as a subprocess the way production does.

Each worker gets its own process group so a chaos test can SIGKILL the whole group, and
its own health-check port so readiness is polled, not slept for.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from devtools.stack import REPO_ROOT, free_port

_READY_TIMEOUT_SECONDS = 60.0
_EXIT_TIMEOUT_SECONDS = 15.0


def kill_group(popen: subprocess.Popen[bytes]) -> None:
    """SIGKILL the process's whole group, as a crash or an OOM kill would, and reap it."""
    if popen.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(popen.pid, signal.SIGKILL)
    popen.wait(timeout=_EXIT_TIMEOUT_SECONDS)


def stop_group(popen: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process's group for a graceful stop, escalating to SIGKILL."""
    if popen.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(popen.pid, signal.SIGTERM)
    try:
        popen.wait(timeout=_EXIT_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        kill_group(popen)


@dataclass
class WorkerProcess:
    """One worker process (`python -m <module>`) and its log."""

    env: dict[str, str]
    log_path: Path
    module: str = "workflows"
    health_port: int = field(default_factory=free_port)
    popen: subprocess.Popen[bytes] | None = None

    def start(self) -> WorkerProcess:
        env = {
            **self.env,
            "HATCHET_CLIENT_WORKER_HEALTHCHECK_ENABLED": "true",
            "HATCHET_CLIENT_WORKER_HEALTHCHECK_PORT": str(self.health_port),
            "HATCHET_CLIENT_WORKER_HEALTHCHECK_BIND_ADDRESS": "127.0.0.1",
            "PYTHONUNBUFFERED": "1",
        }
        with self.log_path.open("ab") as out:
            self.popen = subprocess.Popen(
                [sys.executable, "-m", self.module],
                cwd=REPO_ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.wait_healthy()
        return self

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def wait_healthy(self) -> None:
        """Poll the worker's /health until it reports it is serving."""
        deadline = time.monotonic() + _READY_TIMEOUT_SECONDS
        url = f"http://127.0.0.1:{self.health_port}/health"
        while time.monotonic() < deadline:
            assert self.popen is not None
            if self.popen.poll() is not None:
                raise RuntimeError(f"worker exited ({self.popen.returncode}):\n{self.log_tail()}")
            with (
                contextlib.suppress(urllib.error.URLError, OSError),
                urllib.request.urlopen(url, timeout=2) as resp,  # noqa: S310
            ):
                if resp.status == 200:
                    return
            time.sleep(0.2)
        raise RuntimeError(
            f"worker not healthy after {_READY_TIMEOUT_SECONDS}s:\n{self.log_tail()}"
        )

    def kill(self) -> None:
        """SIGKILL the whole process group: no cleanup, no goodbye to the engine."""
        if self.popen is not None:
            kill_group(self.popen)

    def stop(self) -> None:
        """Graceful stop, escalating to SIGKILL."""
        if self.popen is not None:
            stop_group(self.popen)

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"
