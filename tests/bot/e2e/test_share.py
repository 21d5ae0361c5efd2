"""A member links Spotify and shares a playlist: slash command -> real engine -> real worker
-> catalog rows and the progress message, with the fakes counting every call."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from bot.services import BotServices
from devtools.worker_process import WorkerProcess
from fakes.browser import Browser
from fakes.discord_api import FakeDiscord
from fakes.interactions import InteractionDriver
from fakes.spotify import FakeSpotify, LocalFile, Removed
from storage import catalog
from storage.enums import PlaylistStatus
from tests.bot.support import Member, clickable_links, embed_text, link_directly, link_url
from tests.bot.test_oauth_server import link_in_browser
from tests.bot.test_share import done_thinking
from tests.waiting import async_wait_until

pytestmark = pytest.mark.engine

ITEMS = "GET /v1/playlists/{id}/items"
PLAYLIST = "GET /v1/playlists/{id}"
TOKEN = "POST /api/token"
TRACKS = 1_250


async def link(driver: InteractionDriver, fake: FakeSpotify, spotify_user: str) -> None:
    """/link, our page, consent on Spotify's page, and the browser landing on our callback."""
    reply = await (await driver.slash("link")).response()
    async with Browser() as browser:
        page = await link_in_browser(browser, fake, link_url(reply.data), spotify_user)
    assert page.status == 200 and "Linked as" in page.text


async def wait_until_shared(services: BotServices, guild_id: int, within: float) -> Any:
    """Poll the catalog until the entry is ready (or failed) with a deadline."""

    async def finished() -> Any:
        async with services.sessions.begin() as s:
            [entry] = await catalog.list_guild_catalog(s, guild_id) or [None]
        if entry is not None and entry.status in (PlaylistStatus.READY, PlaylistStatus.FAILED):
            return entry
        return None

    return await async_wait_until(
        finished, timeout=within, interval=0.2, message=f"share not finished within {within}s"
    )


async def stored_uris(services: BotServices, playlist_id: int) -> list[str | None]:
    async with services.sessions.begin() as s:
        return [t.provider_uri for t in await catalog.list_tracks(s, playlist_id)]


async def share_and_wait(
    driver: InteractionDriver,
    fake_discord: FakeDiscord,
    services: BotServices,
    playlist_id: str,
    guild_id: int,
    channel_id: int,
) -> tuple[Any, dict[str, Any]]:
    before = len(fake_discord.messages(channel_id, include_ephemeral=False))
    handle = await driver.slash(
        "share", {"url": f"https://open.spotify.com/playlist/{playlist_id}?si=x"}
    )
    await handle.original(until=done_thinking)
    await fake_discord.async_wait_for(
        lambda: len(fake_discord.messages(channel_id, include_ephemeral=False)) > before,
        within=10,
    )
    entry = await wait_until_shared(services, guild_id, within=120)
    progress = fake_discord.messages(channel_id, include_ephemeral=False)[-1]
    await fake_discord.async_wait_for(
        lambda: (
            "Tracks" in embed_text(fake_discord.message(channel_id, int(progress["id"]))["embeds"])
        ),
        within=10,
    )
    return entry, fake_discord.message(channel_id, int(progress["id"]))


async def test_link_then_share_a_1250_track_playlist(
    driver: InteractionDriver,
    fake_spotify: FakeSpotify,
    fake_discord: FakeDiscord,
    services: BotServices,
    worker: WorkerProcess,
    guild_id: int,
    channel_id: int,
    alice: Member,
) -> None:
    songs = fake_spotify.generate_tracks(TRACKS, seed=11)
    entries: list[Any] = [*songs[:600], LocalFile("Home demo", "Ada"), Removed(), *songs[600:]]
    playlist = fake_spotify.add_playlist("ada", "Road trip", entries)
    await link(driver, fake_spotify, "ada")
    fake_spotify.reset_calls()

    entry, message = await share_and_wait(
        driver, fake_discord, services, playlist.id, guild_id, channel_id
    )

    assert entry.status == PlaylistStatus.READY, entry.error
    assert await stored_uris(services, entry.id) == [s.uri for s in songs]
    assert entry.track_count == TRACKS
    assert entry.skipped == {"local file": 1, "unavailable": 1}
    pages = math.ceil((TRACKS + 2) / 50)
    assert fake_spotify.count(ITEMS) == pages
    assert fake_spotify.count(PLAYLIST) == 2  # the bot's ownership check, the worker's read
    assert fake_spotify.count(TOKEN) == 0  # the token from /link was still fresh
    assert fake_spotify.count() == pages + 2
    text = embed_text(message["embeds"])
    assert "Road trip" in text and "1,250" in text and "Not in the catalog" in text
    history = fake_discord.history(channel_id, int(message["id"]))
    assert any("Reading tracks" in embed_text(v.message["embeds"]) for v in history)
    assert all(v.body.get("allowed_mentions") == {"parse": []} for v in history[1:])

    # Sharing the same playlist again updates the entry, never duplicates it.
    await share_and_wait(driver, fake_discord, services, playlist.id, guild_id, channel_id)
    async with services.sessions.begin() as s:
        assert len(await catalog.list_guild_catalog(s, guild_id)) == 1
    assert await stored_uris(services, entry.id) == [s.uri for s in songs]


async def test_share_survives_429s_and_5xx_without_calling_inside_retry_after(
    driver: InteractionDriver,
    fake_spotify: FakeSpotify,
    fake_discord: FakeDiscord,
    services: BotServices,
    worker: WorkerProcess,
    guild_id: int,
    channel_id: int,
) -> None:
    songs = fake_spotify.generate_tracks(300, seed=12)
    playlist = fake_spotify.add_playlist("ada", "Stormy", songs)
    await link(driver, fake_spotify, "ada")
    fake_spotify.inject(ITEMS, "429", times=2, retry_after=2)
    fake_spotify.inject(ITEMS, "5xx", times=2, status=503)

    entry, message = await share_and_wait(
        driver, fake_discord, services, playlist.id, guild_id, channel_id
    )

    assert entry.status == PlaylistStatus.READY, entry.error
    assert await stored_uris(services, entry.id) == [s.uri for s in songs]
    assert fake_spotify.calls_inside_retry_after_windows() == []
    assert fake_spotify.count(ITEMS, status=429) == 2
    assert fake_spotify.count(ITEMS, status=503) == 2
    assert fake_spotify.count(ITEMS, status=200) == math.ceil(300 / 50)


async def test_a_deleted_playlist_fails_fast_with_a_clear_message(
    driver: InteractionDriver,
    fake_spotify: FakeSpotify,
    fake_discord: FakeDiscord,
    services: BotServices,
    start_mixtape_worker: Callable[[], Awaitable[WorkerProcess]],
    registered_workflows: None,
    guild_id: int,
    channel_id: int,
) -> None:
    songs = fake_spotify.generate_tracks(5, seed=13)
    playlist = fake_spotify.add_playlist("ada", "Soon gone", songs)
    await link(driver, fake_spotify, "ada")
    handle = await driver.slash("share", {"url": f"spotify:playlist:{playlist.id}"})
    await handle.original(until=done_thinking)  # the bot's own check has passed
    # Gone between the bot's check and the worker's read (the run waits for a worker).
    fake_spotify.delete_playlist(playlist.id)
    await start_mixtape_worker()

    entry = await wait_until_shared(services, guild_id, within=60)

    assert entry.status == PlaylistStatus.FAILED
    assert "no longer exists" in (entry.error or "")
    assert fake_spotify.count(PLAYLIST, status=404) == 1  # permanent: not retried
    [progress] = fake_discord.messages(channel_id, include_ephemeral=False)
    await fake_discord.async_wait_for(
        lambda: (
            "Could not share"
            in embed_text(fake_discord.message(channel_id, int(progress["id"]))["embeds"])
        ),
        within=10,
    )


async def test_a_url_in_the_owners_display_name_is_shown_not_linked(
    driver: InteractionDriver,
    fake_spotify: FakeSpotify,
    fake_discord: FakeDiscord,
    services: BotServices,
    worker: WorkerProcess,
    guild_id: int,
    channel_id: int,
    alice: Member,
) -> None:
    fake_spotify.users["ada"].display_name = "Free Nitro https://evil.example/nitro"
    playlist = fake_spotify.add_playlist("ada", "Bait", fake_spotify.generate_tracks(3, seed=14))
    await link_directly(services, fake_spotify, alice)

    entry, message = await share_and_wait(
        driver, fake_discord, services, playlist.id, guild_id, channel_id
    )

    assert entry.status == PlaylistStatus.READY, entry.error
    text = embed_text(message["embeds"])
    assert "Free Nitro https:\u200b//evil.example/nitro" in text  # shown, as text
    assert clickable_links(text) == []
