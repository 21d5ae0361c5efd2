"""Following, said in the channel: a followed entry changes, the scheduled check runs on the
real engine and worker, and the one message about the change counts the followers' copies
as they are updated, until it says all of them were."""

from __future__ import annotations

import random
from typing import Any

import pytest
from hatchet_sdk.clients.rest.models.v1_task_summary import V1TaskSummary

from bot.services import BotServices
from devtools.worker_process import WorkerProcess
from fakes.discord_api import FakeDiscord
from fakes.interactions import FakeUser, InteractionDriver
from fakes.spotify import FakeSpotify
from storage.enums import ImportStatus
from storage.models import Import
from tests.bot.e2e.test_engine_restart import services_hatchet
from tests.bot.e2e.test_follow import entry_when, run_schedule, wait_for_import_count
from tests.bot.e2e.test_import import wait_finished
from tests.bot.e2e.test_share import share_and_wait
from tests.bot.support import Member, embed_text, link_directly, pick, runs_for_guild
from tests.bot.test_share import done_thinking
from tests.waiting import async_wait_until

pytestmark = pytest.mark.engine

CHANGE = "+3 \u22121 songs"


@pytest.fixture
def cy() -> Member:
    return Member(FakeUser(random.randrange(10**17, 10**18), "cy"), "cy")


async def follow(
    driver: InteractionDriver,
    spotify: FakeSpotify,
    services: BotServices,
    entry_id: int,
    member: Member,
) -> Import:
    """The member's copy of the entry, imported with `follow` through /import."""
    await link_directly(services, spotify, member)
    handle = await driver.slash(
        "import", {"playlist": pick(entry_id), "follow": True}, user=member.user
    )
    await handle.original(until=done_thinking)
    [first] = await wait_for_import_count(services, member, 1, within=30)
    first = await wait_finished(services, first.id, within=60)
    assert first.status is ImportStatus.COMPLETED and first.follow
    return first


def updated_field(message: dict[str, Any]) -> str | None:
    """The summary's "Updated" field: the change and how far the copies got."""
    for embed in message.get("embeds") or []:
        for field in embed.get("fields") or []:
            if field.get("name") == "Updated":
                return str(field.get("value"))
    return None


async def test_the_change_message_counts_the_followers_copies_until_all_are_updated(
    driver: InteractionDriver,
    fake_spotify: FakeSpotify,
    fake_discord: FakeDiscord,
    services: BotServices,
    worker: WorkerProcess,
    guild_id: int,
    channel_id: int,
    alice: Member,
    bob: Member,
    cy: Member,
) -> None:
    songs = fake_spotify.generate_tracks(24, seed=171)
    source = fake_spotify.add_playlist("ada", "Late Night Drive", songs[:20])
    await link_directly(services, fake_spotify, alice)
    entry, _ = await share_and_wait(driver, fake_discord, services, source.id, guild_id, channel_id)
    await follow(driver, fake_spotify, services, entry.id, bob)
    await follow(driver, fake_spotify, services, entry.id, cy)
    before = {int(m["id"]) for m in fake_discord.messages(channel_id, include_ephemeral=False)}

    # The sharer adds 3 songs and drops one; cy's update is slow (its first two calls take
    # 7 s each), so the message has a moment when bob's copy is updated and cy's not yet.
    fake_spotify.insert_entries(
        source.id, fake_spotify.resolve_uris([s.uri for s in songs[20:23]], "ada"), None
    )
    fake_spotify.remove_entries(source.id, [4])
    fake_spotify.inject("*", "delay", times=2, seconds=7, user="cy")
    await run_schedule(services)
    changed = await entry_when(
        services, entry.id, lambda e: e.change_added == 3 and e.status.value == "ready", 90
    )
    assert (changed.change_added, changed.change_removed) == (3, 1)

    # Exactly one new channel message (neither a reply nor ephemeral) is about the change.
    def about_the_change() -> list[dict[str, Any]]:
        return [
            m
            for m in fake_discord.messages(
                channel_id, include_ephemeral=False, include_replies=False
            )
            if int(m["id"]) not in before and CHANGE in embed_text(m["embeds"])
        ]

    [message] = await fake_discord.async_wait_for(about_the_change, within=60)
    message_id = int(message["id"])
    done = f"{CHANGE}; 2 followers' copies updated"
    await fake_discord.async_wait_for(
        lambda: updated_field(fake_discord.message(channel_id, message_id) or {}) == done,
        within=120,
    )
    for member in (bob, cy):
        rows = await wait_for_import_count(services, member, 2, within=5)
        update = await wait_finished(services, rows[-1].id, within=5)
        assert update.status is ImportStatus.COMPLETED and update.follow_update, update.error
        assert update.added == 3

    # Its history: posted saying who it reaches, then edited as the copies were updated.
    said = [updated_field(v.message) for v in fake_discord.history(channel_id, message_id)]
    steps = [text for i, text in enumerate(said) if i == 0 or text != said[i - 1]]
    assert steps == [
        f"{CHANGE}; updating 2 followers' copies",
        f"{CHANGE}; 1 of 2 followers' copies updated",
        done,
    ], said
    assert len(about_the_change()) == 1

    # One report run, with the guild, the entry and the sharer as dashboard metadata.
    hatchet = services_hatchet(services)

    async def reports() -> list[V1TaskSummary]:
        rows = await runs_for_guild(hatchet, guild_id)
        return [r for r in rows if (r.additional_metadata or {}).get("follow") == "report"]

    [run] = await async_wait_until(reports, timeout=30, message="no follow report run listed")
    metadata = dict(run.additional_metadata or {})
    assert (
        metadata.items()
        >= {
            "guild_id": str(guild_id),
            "catalog_playlist_id": str(entry.id),
            "user_id": str(alice.id),
            "follow": "report",
        }.items()
    ), metadata
