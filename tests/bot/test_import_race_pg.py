"""Two `/import` clicks at the same instant on PostgreSQL (the compose deployment's database):
one import, one "Importing…", and a clear "already importing" for the other click.

SQLite serialises every write transaction, so only PostgreSQL shows the race: both clicks
pass the check before the insert, and only the database's partial unique index stops the
second. Runs through the real command tree and the real engine, 20 times.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from bot.services import BotServices
from fakes.discord_api import FakeDiscord
from fakes.interactions import FakeUser, InteractionDriver, InteractionHandle
from fakes.spotify import FakeSpotify
from tests.bot.support import Member, add_entry, embed_text, import_rows, link_directly, pick
from tests.bot.test_share import done_thinking, original_text
from tests.storage.conftest import fresh_pg_database

pytestmark = [pytest.mark.engine, pytest.mark.postgres]

ROUNDS = 20
DEFERRED = 5  # DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE


@pytest.fixture
async def database_url(stack_env: dict[str, str]) -> AsyncIterator[str]:
    """The bot tests' database, on PostgreSQL (a fresh one on the test cluster)."""
    async with fresh_pg_database("mixtape_race") as url:
        yield url


async def test_two_clicks_at_once_make_one_import_every_time(
    driver: InteractionDriver,
    fake_discord: FakeDiscord,
    fake_spotify: FakeSpotify,
    services: BotServices,
    guild_id: int,
    channel_id: int,
    alice: Member,
) -> None:
    entry = await add_entry(services, guild_id, alice.id, "Raced", tracks=3)
    for round_ in range(ROUNDS):
        fake_spotify.add_user(f"racer{round_}")
        member = Member(FakeUser(alice.id + 1 + round_, f"m{round_}"), f"racer{round_}")
        await link_directly(services, fake_spotify, member)
        clicks = [
            await driver.slash("import", {"playlist": pick(entry)}, user=member.user)
            for _ in range(2)
        ]

        answers = await asyncio.gather(*(_answer(h) for h in clicks))

        started = [a for a in answers if a.startswith("Importing ")]
        refused = [a for a in answers if "already importing" in a]
        assert (len(started), len(refused)) == (1, 1), (round_, answers)
        rows = [r for r in await import_rows(services) if r.discord_user_id == member.id]
        assert len(rows) == 1, round_
    public = fake_discord.messages(channel_id, include_ephemeral=False)
    assert len(public) == ROUNDS  # one progress message per round, never two


async def _answer(handle: InteractionHandle) -> str:
    """What the click ends with: the deferred reply's final text, or an immediate answer."""
    reply = await handle.response()
    if reply.type == DEFERRED:
        return original_text(await handle.original(until=done_thinking))
    return "\n".join([reply.content or "", embed_text(reply.embeds)])
