"""The one place a Hatchet client is made.

The SDK reads `HATCHET_CLIENT_*` from the environment when the client is built, so it is
built in entry points (the worker's `__main__`, the bot's start-up), never at import time.
"""

from __future__ import annotations

from hatchet_sdk import Hatchet


def create_hatchet() -> Hatchet:
    """A client configured from the environment (token, host, TLS, namespace)."""
    return Hatchet()
