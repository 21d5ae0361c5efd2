"""Fair use through the real command tree: per-member cooldowns on /share and /import, one
live share per playlist, and a cap on each server's catalog."""

from __future__ import annotations

import re

import pytest
from hatchet_sdk import Hatchet

from bot.services import BotServices
from fakes.discord_api import FakeDiscord
from fakes.interactions import InteractionDriver
from fakes.spotify import FakeSpotify
from mixtape.settings import Settings
from tests.bot.support import (
    Member,
    add_entry,
    embed_text,
    import_rows,
    link_directly,
    pick,
    settled_runs,
)
from tests.bot.test_share import PLAYLISTS_READ, done_thinking, original_text

pytestmark = pytest.mark.engine

COOLDOWN = re.compile(r"You're doing that too often\. Try again in (\d+) s\.")


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Budgets small enough to reach in a test: two shares and one import per ten minutes."""
    return settings.model_copy(update={
        "share_cooldown_uses": 2, "share_cooldown_seconds": 600.0,
        "import_cooldown_uses": 1, "import_cooldown_seconds": 600.0,
    })


async def share(driver: InteractionDriver, playlist_id: str, **kwargs: object) -> str:
    """Run /share and return the text it ends with (an at-once refusal or the deferred one)."""
    handle = await driver.slash("share", {"url": f"spotify:playlist:{playlist_id}"}, **kwargs)
    reply = await handle.response()
    assert reply.ephemeral
    if reply.type == 5:
        return original_text(await handle.original(until=done_thinking))
    return "\n".join([reply.content or "", embed_text(reply.embeds)])


async def test_share_has_a_per_member_cooldown(
    driver: InteractionDriver,
    fake_discord: FakeDiscord,
    fake_spotify: FakeSpotify,
    services: BotServices,
    bot_hatchet: Hatchet,
    alice: Member,
    bob: Member,
    guild_id: int,
    channel_id: int,
) -> None:
    await link_directly(services, fake_spotify, alice)
    await link_directly(services, fake_spotify, bob)
    mine = [fake_spotify.add_playlist("ada", f"Mix {n}") for n in range(3)]
    theirs = fake_spotify.add_playlist("bob", "Bob's")

    for playlist in mine[:2]:
        assert "Sharing **" in await share(driver, playlist.id)
    refused = await share(driver, mine[2].id)
    allowed = await share(driver, theirs.id, user=bob.user)

    match = COOLDOWN.search(refused)
    assert match is not None, refused
    assert 590 <= int(match.group(1)) <= 600
    assert "Sharing **Bob's**" in allowed  # another member's budget is their own
    assert fake_spotify.count(PLAYLISTS_READ) == 3  # the refused one read nothing
    assert len(fake_discord.messages(channel_id, include_ephemeral=False)) == 3
    assert len(await settled_runs(bot_hatchet, services.dispatcher, guild_id)) == 3


async def test_import_has_a_per_member_cooldown(
    driver: InteractionDriver,
    fake_spotify: FakeSpotify,
    services: BotServices,
    bot_hatchet: Hatchet,
    alice: Member,
    bob: Member,
    guild_id: int,
) -> None:
    await link_directly(services, fake_spotify, alice)
    await link_directly(services, fake_spotify, bob)
    first = await add_entry(services, guild_id, alice.id, "First", tracks=2)
    second = await add_entry(services, guild_id, alice.id, "Second", tracks=2)

    started = await (await driver.slash("import", {"playlist": pick(first)})).original(
        until=done_thinking
    )
    refused = await (await driver.slash("import", {"playlist": pick(second)})).response()
    allowed = await (
        await driver.slash("import", {"playlist": pick(second)}, user=bob.user)
    ).original(until=done_thinking)

    assert "Importing **First**" in original_text(started)
    assert refused.ephemeral and COOLDOWN.search(embed_text(refused.embeds)), refused
    assert "Importing **Second**" in original_text(allowed)
    assert [(row.discord_user_id, row.playlist_name) for row in await import_rows(services)] == [
        (alice.id, "First"), (bob.id, "Second")
    ]
    assert len(await settled_runs(bot_hatchet, services.dispatcher, guild_id)) == 2
