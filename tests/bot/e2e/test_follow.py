"""Following, end to end: a member shares, another imports with `follow`, the source
changes, the scheduled check runs on the real engine and worker, and the follower's copy
gets exactly what the source gained; an unchanged source costs one call; a sharer who
unlinks pauses following, and `/catalog show` says so."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from bot.services import BotServices
from devtools.worker_process import WorkerProcess
from fakes.discord_api import FakeDiscord
from fakes.interactions import MANAGE_GUILD, InteractionDriver
from fakes.spotify import FakeSpotify
from storage import catalog, imports
from storage.enums import ImportStatus
from storage.models import CatalogPlaylist, Import
from tests.bot.e2e.test_engine_restart import services_hatchet
from tests.bot.e2e.test_import import wait_finished
from tests.bot.e2e.test_share import share_and_wait
from tests.bot.support import Member, embed_text, link_directly, pick
from tests.bot.test_share import done_thinking
from workflows.follow import CATALOG_FOLLOW, UNLINKED

pytestmark = pytest.mark.engine

PLAYLIST = "GET /v1/playlists/{id}"
ADD = "POST /v1/playlists/{id}/items"


async def run_schedule(services: BotServices) -> int:
    """What FOLLOW_CRON does, now: one run of the scheduled check; the checks it started."""
    follow = services_hatchet(services).stubs.task(name=CATALOG_FOLLOW)
    out = await follow.aio_run()
    return int(dict(out)["checks"])


async def entry_when(
    services: BotServices, entry_id: int, done: Any, within: float
) -> CatalogPlaylist:
    deadline = time.monotonic() + within
    while True:
        async with services.sessions.begin() as s:
            entry = await catalog.get_catalog_playlist(s, entry_id)
        assert entry is not None
        if done(entry):
            return entry
        assert time.monotonic() < deadline, f"entry {entry_id} did not get there in {within}s"
        await asyncio.sleep(0.2)


async def imports_of(services: BotServices, member: Member) -> list[Import]:
    async with services.sessions.begin() as s:
        return list(reversed(await imports.list_user_imports(s, member.id)))


async def wait_for_import_count(
    services: BotServices, member: Member, count: int, within: float
) -> list[Import]:
    deadline = time.monotonic() + within
    while len(rows := await imports_of(services, member)) < count:
        assert time.monotonic() < deadline, f"{member.user.name} has {len(rows)} imports"
        await asyncio.sleep(0.2)
    return rows


@dataclass
class Following:
    """One test's world: Ada shares, Bob follows."""

    driver: InteractionDriver
    spotify: FakeSpotify
    discord: FakeDiscord
    services: BotServices
    guild_id: int
    channel_id: int
    alice: Member
    bob: Member

    async def shared(self, name: str, songs: list[Any]) -> tuple[Any, CatalogPlaylist]:
        """Ada's playlist, linked and shared through /share."""
        source = self.spotify.add_playlist("ada", name, songs)
        await link_directly(self.services, self.spotify, self.alice)
        entry, _ = await share_and_wait(
            self.driver, self.discord, self.services, source.id, self.guild_id, self.channel_id
        )
        return source, entry

    async def followed(self, name: str, songs: list[Any]) -> tuple[Any, CatalogPlaylist, Import]:
        """...and Bob's copy of it, imported with `follow` through /import."""
        source, entry = await self.shared(name, songs)
        await link_directly(self.services, self.spotify, self.bob)
        handle = await self.driver.slash(
            "import", {"playlist": pick(entry.id), "follow": True}, user=self.bob.user
        )
        await handle.original(until=done_thinking)
        [first] = await wait_for_import_count(self.services, self.bob, 1, within=30)
        first = await wait_finished(self.services, first.id, within=60)
        assert first.status is ImportStatus.COMPLETED and first.follow and first.target_playlist_id
        assert self.spotify.playlist_uris(first.target_playlist_id) == [s.uri for s in songs]
        return source, entry, first


@pytest.fixture
def world(
    driver: InteractionDriver,
    fake_spotify: FakeSpotify,
    fake_discord: FakeDiscord,
    services: BotServices,
    guild_id: int,
    channel_id: int,
    alice: Member,
    bob: Member,
) -> Following:
    return Following(driver, fake_spotify, fake_discord, services, guild_id, channel_id, alice, bob)


async def test_a_follower_copy_gets_what_the_source_gained_once_and_keeps_its_own(
    world: Following,
    driver: InteractionDriver,
    fake_spotify: FakeSpotify,
    fake_discord: FakeDiscord,
    services: BotServices,
    worker: WorkerProcess,
    channel_id: int,
    bob: Member,
) -> None:
    songs = fake_spotify.generate_tracks(30, seed=151)
    source, entry, first = await world.followed("Late Night Drive", songs[:20])
    copy = first.target_playlist_id
    assert copy
    # The sharer edits the source: 3 new songs, the 5th one gone, the 1st one twice.
    fake_spotify.insert_entries(
        source.id, fake_spotify.resolve_uris([s.uri for s in songs[20:23]], "ada"), None
    )
    fake_spotify.insert_entries(source.id, fake_spotify.resolve_uris([songs[0].uri], "ada"), 10)
    fake_spotify.remove_entries(source.id, [4])
    # ... and the 2nd one moved to the end.
    fake_spotify.remove_entries(source.id, [1])
    fake_spotify.insert_entries(source.id, fake_spotify.resolve_uris([songs[1].uri], "ada"), None)
    # Bob adds a song of his own to his copy; it must stay.
    own = songs[29]
    fake_spotify.insert_entries(copy, fake_spotify.resolve_uris([own.uri], "bob"), 0)

    before = entry.changed_at
    await run_schedule(services)
    changed = await entry_when(
        services, entry.id, lambda e: e.changed_at != before and e.status.value == "ready", 90
    )
    assert (changed.change_added, changed.change_removed, changed.change_moved) == (4, 1, 1)
    rows = await wait_for_import_count(services, bob, 2, within=60)
    update = await wait_finished(services, rows[-1].id, within=90)

    assert update.status is ImportStatus.COMPLETED, update.error
    assert update.follow_update and update.follow
    assert update.target_playlist_id == copy
    source_now = fake_spotify.playlist_uris(source.id)
    held = Counter(fake_spotify.playlist_uris(copy))
    # Everything the source holds, as many times as it holds it; plus bob's own song and
    # the song the source dropped (Mixtape never deletes what a member holds).
    assert held == Counter(source_now) + Counter([own.uri, songs[4].uri])
    assert update.added == 4
    # Said in the channel once, on the share's message: the change and who it reaches.
    said = [
        embed_text(m["embeds"]) for m in fake_discord.messages(channel_id, include_ephemeral=False)
    ]
    assert sum("+4 \u22121 songs, 1 moved" in text for text in said) == 1, said

    # /catalog show tells the change and the follower.
    show = await driver.slash("catalog", {"playlist": pick(entry.id)}, subcommand="show")
    shown = embed_text((await show.response()).data["embeds"])
    assert "+4 \u22121 songs, 1 moved" in shown and "1 member follows it" in shown

    # An unchanged source costs one call, and nobody's copy is touched.
    fake_spotify.reset_calls()
    checked = changed.checked_at
    await run_schedule(services)
    await entry_when(services, entry.id, lambda e: e.checked_at != checked, 60)
    assert fake_spotify.count() == 1 and fake_spotify.count(PLAYLIST) == 1
    assert len(await imports_of(services, bob)) == 2

    # Bob unfollows: the next change reaches no copy of his.
    handle = await driver.slash("unfollow", {"playlist": pick(entry.id)}, user=bob.user)
    assert "no longer follows" in str((await handle.response()).data.get("content"))
    fake_spotify.insert_entries(source.id, fake_spotify.resolve_uris([songs[25].uri], "ada"), None)
    before = changed.changed_at
    await run_schedule(services)
    again = await entry_when(
        services, entry.id, lambda e: e.changed_at != before and e.status.value == "ready", 90
    )
    assert (again.change_added, again.change_removed, again.change_moved) == (1, 0, 0)
    # The share posts the change only after its fan-out answered: once it shows, any
    # update the fan-out started exists.
    await fake_discord.async_wait_for(
        lambda: any(
            "+1 \u22120 song" in embed_text(m["embeds"])
            for m in fake_discord.messages(channel_id, include_ephemeral=False)
        ),
        within=30,
    )
    assert len(await imports_of(services, bob)) == 2


async def test_a_sharer_who_unlinks_pauses_following_with_the_reason(
    world: Following,
    driver: InteractionDriver,
    fake_spotify: FakeSpotify,
    services: BotServices,
    worker: WorkerProcess,
) -> None:
    _, entry = await world.shared("Gone Soon", fake_spotify.generate_tracks(5, seed=152))
    await (await driver.slash("unlink")).response()
    fake_spotify.reset_calls()

    await run_schedule(services)
    paused = await entry_when(services, entry.id, lambda e: e.follow_paused_reason, 60)

    assert paused.follow_paused_reason == UNLINKED
    assert fake_spotify.count() == 0  # no grant, no call
    show = await driver.slash("catalog", {"playlist": pick(entry.id)}, subcommand="show")
    assert "Following paused" in embed_text((await show.response()).data["embeds"])


async def test_managers_pause_and_resume_following_in_their_server(
    world: Following,
    driver: InteractionDriver,
    fake_spotify: FakeSpotify,
    services: BotServices,
    worker: WorkerProcess,
) -> None:
    _, entry = await world.shared("Weekly", fake_spotify.generate_tracks(3, seed=153))
    refused = await driver.slash("following", subcommand="pause")
    assert "Manage Server" in embed_text((await refused.response()).data["embeds"])
    assert await run_schedule(services) == 1  # an ordinary member cannot pause it

    paused = await driver.slash("following", subcommand="pause", permissions=MANAGE_GUILD)
    assert "/following resume" in str((await paused.response()).data.get("content"))
    fake_spotify.reset_calls()
    assert await run_schedule(services) == 0
    assert fake_spotify.count() == 0
    show = await driver.slash("catalog", {"playlist": pick(entry.id)}, subcommand="show")
    assert "paused in this server" in embed_text((await show.response()).data["embeds"])

    resumed = await driver.slash("following", subcommand="resume", permissions=MANAGE_GUILD)
    assert "resumed" in str((await resumed.response()).data.get("content"))
    assert await run_schedule(services) == 1


async def test_a_follower_whose_update_failed_is_told_privately_with_the_way_out(
    world: Following,
    driver: InteractionDriver,
    fake_spotify: FakeSpotify,
    fake_discord: FakeDiscord,
    services: BotServices,
    worker: WorkerProcess,
    alice: Member,
    bob: Member,
) -> None:
    songs = fake_spotify.generate_tracks(6, seed=154)
    source, _, _ = await world.followed("Fresh", songs[:5])
    await (await driver.slash("unlink", user=bob.user)).response()  # bob leaves Spotify
    fake_spotify.insert_entries(source.id, fake_spotify.resolve_uris([songs[5].uri], "ada"), None)

    await run_schedule(services)
    rows = await wait_for_import_count(services, bob, 2, within=90)
    update = await wait_finished(services, rows[-1].id, within=60)

    assert update.status is ImportStatus.FAILED and update.follow_update
    await fake_discord.async_wait_for(
        lambda: (
            fake_discord.dm_channel_id(bob.id) is not None
            and bool(fake_discord.messages(fake_discord.dm_channel_id(bob.id) or 0))
        ),
        within=15,
    )
    [dm] = fake_discord.messages(fake_discord.dm_channel_id(bob.id) or 0)
    assert "Fresh" in dm["content"] and f"/retry import:#{update.id}" in dm["content"]
    assert "/unfollow" in dm["content"]
    assert fake_discord.dm_channel_id(alice.id) is None  # nobody else is told


async def test_a_worker_killed_during_a_follower_update_leaves_the_copy_exact(
    world: Following,
    fake_spotify: FakeSpotify,
    services: BotServices,
    start_mixtape_worker: Callable[[], Awaitable[WorkerProcess]],
    bob: Member,
) -> None:
    songs = fake_spotify.generate_tracks(450, seed=155)
    worker = await start_mixtape_worker()
    source, _, first = await world.followed("Long Haul", songs[:200])
    assert first.target_playlist_id
    fake_spotify.insert_entries(
        source.id, fake_spotify.resolve_uris([s.uri for s in songs[200:]], "ada"), None
    )
    # The update's second add lands after the kill, before its ledger heard of it.
    held = fake_spotify.inject(ADD, "delay", seconds=12, user="bob", skip=1)

    await run_schedule(services)
    await asyncio.to_thread(held_fired, held, 60)
    worker.kill()
    await start_mixtape_worker()
    rows = await wait_for_import_count(services, bob, 2, within=30)
    update = await wait_finished(services, rows[-1].id, within=180)

    assert update.status is ImportStatus.COMPLETED, update.error
    assert update.target_playlist_id == first.target_playlist_id
    assert fake_spotify.playlist_uris(first.target_playlist_id) == [s.uri for s in songs]
    assert len(await imports_of(services, bob)) == 2  # the fan-out did not run twice


def held_fired(fault: Any, within: float) -> None:
    deadline = time.monotonic() + within
    while fault.fired < 1:
        assert time.monotonic() < deadline, "the delayed add never came"
        time.sleep(0.05)
