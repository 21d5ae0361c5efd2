"""The worker process: `python -m workflows`.

`worker.start()` owns its own event loop and exits the process when it stops, which is why
tests and the demo run the worker as a subprocess.

On SIGTERM or SIGINT the SDK pauses the worker on the engine and waits for its running
steps without a bound; `bound_the_drain` forces the exit after WORKER_DRAIN_SECONDS, so a
container stops within its grace period instead of being SIGKILLed mid-step. A step cut
short that way is handed to another worker by the engine, and the import's ledger makes
running it again safe.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType

from hatchet_sdk.runnables.contextvars import ctx_additional_metadata, ctx_workflow_run_id

from mixtape.log_redaction import LOG_FORMAT, configure_logging
from mixtape.settings import get_settings
from storage.crypto import TokenCipher, TokenKeyError
from storage.key_checks import check_database_keys
from workflows.client import create_hatchet
from workflows.lifespan import make_lifespan
from workflows.registry import all_workflows

log = logging.getLogger("workflows")
#: After a forced stop, how long the SDK gets to stop its own processes before we exit.
FORCED_EXIT_SECONDS = 8.0

Handler = Callable[[int, FrameType | None], object]
#: The bot's format, with the run (and import) a line was logged in.
WORKER_LOG_FORMAT = LOG_FORMAT.replace("%(name)s:", "%(name)s%(run_context)s:")


class RunContext(logging.Filter):
    """Tags a line logged inside a task with its run id and, for an import, its import id,
    so one import's lines can be found among many workers' and runs'."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Never drops a record; only sets `run_context` (empty outside a task)."""
        run = ctx_workflow_run_id.get()
        metadata = ctx_additional_metadata.get() or {}
        tags = [f"run={run}"] if run else []
        if "import_id" in metadata:
            tags.append(f"import={metadata['import_id']}")
        record.run_context = f" [{' '.join(tags)}]" if tags else ""
        return True


def tag_log_lines() -> None:
    """Every handler of the root logger writes the run context."""
    for handler in logging.getLogger().handlers:
        handler.addFilter(RunContext())
        handler.setFormatter(logging.Formatter(WORKER_LOG_FORMAT))


def bound_the_drain(seconds: float) -> None:
    """Wrap the SDK's graceful stop: a stop still draining after `seconds` is forced.

    The force is the SDK's own (SIGQUIT: it stops its listener processes and exits); if even
    that hangs, the process ends FORCED_EXIT_SECONDS later.
    """
    started = threading.Event()

    def force() -> None:
        log.warning("still draining after %.0f s: leaving the running steps to the engine", seconds)
        os.kill(os.getpid(), signal.SIGQUIT)
        last = threading.Timer(FORCED_EXIT_SECONDS, os._exit, args=(1,))
        last.daemon = True
        last.start()

    def wrap(graceful: Handler) -> Handler:
        def handler(signum: int, frame: FrameType | None) -> None:
            graceful(signum, frame)
            if not started.is_set():
                started.set()
                timer = threading.Timer(seconds, force)
                timer.daemon = True
                timer.start()

        return handler

    for signum in (signal.SIGTERM, signal.SIGINT):
        graceful = signal.getsignal(signum)
        if callable(graceful):
            signal.signal(signum, wrap(graceful))


def main() -> None:
    settings = get_settings()
    configure_logging(settings)
    tag_log_lines()
    try:  # before the worker takes any task: wrong keys would fail every member's run
        cipher = TokenCipher.from_setting(settings.token_encryption_keys)
        asyncio.run(check_database_keys(settings.database_url, cipher))
    except TokenKeyError as exc:
        log.error("%s", exc)
        sys.exit(2)
    hatchet = create_hatchet()
    worker = hatchet.worker(
        "mixtape-worker",
        slots=settings.worker_slots,
        durable_slots=settings.worker_slots,
        workflows=all_workflows(hatchet, settings),
        lifespan=make_lifespan(hatchet, settings),
    )
    bound_the_drain(settings.worker_drain_seconds)
    worker.start()


if __name__ == "__main__":
    main()
