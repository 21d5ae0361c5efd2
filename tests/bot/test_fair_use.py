"""Fair use through the real command tree: per-member cooldowns on /share and /import, one
live share per playlist, and a cap on each server's catalog."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta

import pytest
from hatchet_sdk import Hatchet
from sqlalchemy import update

from bot.services import BotServices
from fakes.discord_api import FakeDiscord
from fakes.interactions import InteractionDriver
from fakes.spotify import FakeSpotify
from mixtape.settings import Settings
from storage import catalog
from storage.enums import PlaylistStatus
from storage.models import CatalogPlaylist
from storage.types import utcnow
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
    """Budgets small enough to reach in a test: two shares and one import per ten minutes,
    three playlists per catalog."""
    return settings.model_copy(
        update={
            "share_cooldown_uses": 2,
            "share_cooldown_seconds": 600.0,
            "import_cooldown_uses": 1,
            "import_cooldown_seconds": 600.0,
            "catalog_max_entries_per_guild": 3,
        }
    )


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
        (alice.id, "First"),
        (bob.id, "Second"),
    ]
    assert len(await settled_runs(bot_hatchet, services.dispatcher, guild_id)) == 2


async def test_a_second_share_while_the_first_is_read_points_to_it(
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
    playlist = fake_spotify.add_playlist("ada", "Together", collaborators=["bob"])

    await share(driver, playlist.id)  # no worker here: it stays pending
    again = await share(driver, playlist.id, user=bob.user)

    [progress] = fake_discord.messages(channel_id, include_ephemeral=False)
    jump = f"https://discord.com/channels/{guild_id}/{channel_id}/{progress['id']}"
    assert again.strip() == f"**Together** is already being read: see its progress message: {jump}."
    assert fake_spotify.count(PLAYLISTS_READ) == 1  # the second one asked Spotify nothing
    assert len(await settled_runs(bot_hatchet, services.dispatcher, guild_id)) == 1


async def test_two_shares_at_once_start_one_read(
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
    playlist = fake_spotify.add_playlist("ada", "Race", collaborators=["bob"])
    fake_spotify.set_latency(0.3)  # both are past the early check when either claims

    answers = await asyncio.gather(
        share(driver, playlist.id), share(driver, playlist.id, user=bob.user)
    )

    assert sorted("already being read" in answer for answer in answers) == [False, True]
    assert fake_spotify.count(PLAYLISTS_READ) == 2
    assert len(fake_discord.messages(channel_id, include_ephemeral=False)) == 1
    assert len(await settled_runs(bot_hatchet, services.dispatcher, guild_id)) == 1


async def test_a_share_that_died_long_ago_can_be_started_again(
    driver: InteractionDriver,
    fake_spotify: FakeSpotify,
    services: BotServices,
    bot_hatchet: Hatchet,
    alice: Member,
    guild_id: int,
) -> None:
    await link_directly(services, fake_spotify, alice)
    playlist = fake_spotify.add_playlist("ada", "Stuck")
    await share(driver, playlist.id)
    async with services.sessions.begin() as session:
        await session.execute(
            update(CatalogPlaylist).values(updated_at=utcnow() - timedelta(hours=8))
        )

    answer = await share(driver, playlist.id)

    assert "Sharing **Stuck**" in answer
    assert len(await settled_runs(bot_hatchet, services.dispatcher, guild_id)) == 2


async def test_a_full_catalog_refuses_new_playlists_but_not_a_reshare(
    driver: InteractionDriver,
    fake_discord: FakeDiscord,
    fake_spotify: FakeSpotify,
    services: BotServices,
    bot_hatchet: Hatchet,
    alice: Member,
    guild_id: int,
    channel_id: int,
) -> None:
    await link_directly(services, fake_spotify, alice)
    for number in range(2):
        await add_entry(services, guild_id, alice.id, f"Old {number}", tracks=1)
    kept = fake_spotify.add_playlist("ada", "Kept")
    await add_entry(services, guild_id, alice.id, "Kept", tracks=1, playlist_id=kept.id)
    extra = fake_spotify.add_playlist("ada", "One too many")

    refused = await share(driver, extra.id)
    reshared = await share(driver, kept.id)

    assert refused.strip() == (
        "This server's catalog is full (3 playlists). `/unshare` one that is no longer "
        "needed (its sharer or a member with Manage Server can), then share again."
    )
    assert "Sharing **Kept**" in reshared
    async with services.sessions.begin() as session:
        assert await catalog.count_guild_catalog(session, guild_id) == 3
        [entry] = await catalog.list_guild_catalog(session, guild_id, query="Kept")
    assert entry.status is PlaylistStatus.PENDING
    assert fake_spotify.count(PLAYLISTS_READ) == 1  # the refused one asked Spotify nothing
    assert len(await settled_runs(bot_hatchet, services.dispatcher, guild_id)) == 1
