"""The worker process: `python -m workflows`.

`worker.start()` owns its own event loop and exits the process when it stops, which is why
tests and the demo run the worker as a subprocess.
"""

from __future__ import annotations

import asyncio
import logging
import sys

from mixtape.log_redaction import configure_logging
from mixtape.settings import get_settings
from storage.crypto import TokenCipher, TokenKeyError
from storage.key_checks import check_database_keys
from workflows.client import create_hatchet
from workflows.lifespan import make_lifespan
from workflows.registry import all_workflows

log = logging.getLogger("workflows")


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
    worker.start()


if __name__ == "__main__":
    main()
