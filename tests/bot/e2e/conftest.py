"""Fixtures for end-to-end tests: the bot's services on the namespace the real worker
serves, and the real worker configured like the bot (same database, same fakes).

Every test under this folder gets them; `services` here overrides the bot tests' own.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from bot.services import BotServices, open_services
from devtools.worker_process import WorkerProcess
from fakes.discord_api import FakeDiscord
from mixtape.settings import Settings
from workflows.client import create_hatchet
from workflows.registry import all_workflows


@pytest.fixture
async def services(settings: Settings, stack_env: dict[str, str]) -> AsyncIterator[BotServices]:
    """The bot's services on the namespace the test worker serves (not the bot tests' own)."""
    async with open_services(settings, create_hatchet) as built:
        yield built


@pytest.fixture
def registered_workflows(settings: Settings, stack_env: dict[str, str]) -> None:
    """The workflows registered in this test's namespace as a worker registers them at
    start, with no worker running: runs dispatched now wait for one (a test's namespace is
    its own, so nothing else has registered them)."""
    hatchet = create_hatchet()
    for workflow in all_workflows(hatchet, settings):
        hatchet._client.admin.put_workflow(workflow.to_proto())


@pytest.fixture
def start_mixtape_worker(
    start_worker: Callable[..., WorkerProcess], settings: Settings, fake_discord: FakeDiscord
) -> Callable[..., Awaitable[WorkerProcess]]:
    """Starts the real worker, configured like the bot: same database, same fakes.

    The wait for the worker's health runs in a thread: blocking the test's event loop would
    freeze the bot's own database transactions, and the worker's start-up migration waits
    for those.
    """
    assert settings.spotify_client_secret and settings.token_encryption_keys
    env = {
        "DATABASE_URL": settings.database_url,
        "DISCORD_TOKEN": fake_discord.token,
        "DISCORD_API_BASE": fake_discord.api_base,
        "SPOTIFY_CLIENT_ID": settings.spotify_client_id or "",
        "SPOTIFY_CLIENT_SECRET": settings.spotify_client_secret.get_secret_value(),
        "SPOTIFY_REDIRECT_URI": settings.spotify_redirect_uri,
        "SPOTIFY_API_BASE": settings.spotify_api_base,
        "SPOTIFY_ACCOUNTS_BASE": settings.spotify_accounts_base,
        "TOKEN_ENCRYPTION_KEYS": settings.token_encryption_keys.get_secret_value(),
        "PROGRESS_INTERVAL_SECONDS": "0.5",
        "SPOTIFY_BACKOFF_MAX_SECONDS": "2",
    }

    def start(overrides: dict[str, str] | None = None) -> Awaitable[WorkerProcess]:
        return asyncio.to_thread(start_worker, {**env, **(overrides or {})})

    return start


@pytest.fixture
async def worker(start_mixtape_worker: Callable[..., Awaitable[WorkerProcess]]) -> WorkerProcess:
    return await start_mixtape_worker()
