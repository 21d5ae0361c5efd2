"""Two `/import` clicks at one instant: the database's one-active-import index refuses the
second insert with `ActiveImportExists`, and that member is told "already importing"."""

from __future__ import annotations

from typing import Any

import pytest
from hatchet_sdk import Hatchet
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import BotServices
from fakes.discord_api import FakeDiscord
from fakes.interactions import InteractionDriver
from fakes.spotify import FakeSpotify
from storage import imports
from storage.errors import ActiveImportExists
from storage.models import Import
from tests.bot.support import (
    Member,
    add_entry,
    import_rows,
    link_directly,
    pick,
    settled_runs,
)
from tests.bot.test_imports import run_to_answer

pytestmark = pytest.mark.engine


async def test_the_click_that_loses_the_race_is_told_already_importing(
    driver: InteractionDriver,
    fake_discord: FakeDiscord,
    fake_spotify: FakeSpotify,
    services: BotServices,
    bot_hatchet: Hatchet,
    alice: Member,
    guild_id: int,
    channel_id: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await link_directly(services, fake_spotify, alice)
    entry = await add_entry(services, guild_id, alice.id, "Raced", tracks=2)
    calls: list[dict[str, Any]] = []

    async def index_refuses(session: AsyncSession, **kwargs: Any) -> Import:
        """What the insert meets when another click committed between the check and it."""
        calls.append(kwargs)
        raise ActiveImportExists(entry)

    monkeypatch.setattr(imports, "create_import_with_ledger", index_refuses)

    answer = await run_to_answer(driver, "import", {"playlist": pick(entry)})

    assert "You're already importing **Raced** — see `/imports`" in answer
    assert [call["catalog_playlist_id"] for call in calls] == [entry]  # the check passed
    assert await import_rows(services) == []  # this click's transaction left nothing
    assert fake_discord.messages(channel_id, include_ephemeral=False) == []
    assert await settled_runs(bot_hatchet, services.dispatcher, guild_id) == []
