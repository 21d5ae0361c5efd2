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

from mixtape.log_redaction import configure_logging
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


def bound_the_drain(seconds: float) -> None:
    """Wrap the SDK's graceful stop: a stop still draining after `seconds` is forced.

    The force is the SDK's own (SIGQUIT: it stops its listener processes and exits); if even
    that hangs, the process ends FORCED_EXIT_SECONDS later.
    """
    started = threading.Event()

    def force() -> None:
        log.warning("still draining after %.0f s: leaving the running steps to the engine",
                    seconds)
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
