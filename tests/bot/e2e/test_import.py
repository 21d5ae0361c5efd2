"""Imports on the real engine and worker: the target ends equal to the catalog playlist, in
order, exactly once, whatever Spotify does; the fake counts every call."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import requests

from bot.services import BotServices
from devtools.worker_process import WorkerProcess
from fakes.discord_api import FakeDiscord
from fakes.interactions import InteractionDriver
from fakes.spotify import FakeSpotify
from storage import accounts, catalog, imports
from storage.catalog import TrackData
from storage.enums import ImportStatus, PlaylistStatus
from storage.models import Import
from tests.bot.e2e.test_share import link
from tests.bot.support import Member, embed_text, link_directly
from tests.waiting import async_wait_until
from workflows.contracts import ImportInput
from workflows.import_playlist import marker

pytestmark = pytest.mark.engine

ADD = "POST /v1/playlists/{id}/items"
ITEMS = "GET /v1/playlists/{id}/items"
CREATE = "POST /v1/me/playlists"


def names(track: Any) -> tuple[str, ...]:
    return tuple(artist.name for artist in track.artists)


async def catalog_entry(
    services: BotServices,
    fake: FakeSpotify,
    guild_id: int,
    owner: int,
    tracks: list[Any],
    name: str = "Summer",
) -> int:
    """A shared playlist as the share workflow leaves it."""
    async with services.sessions.begin() as s:
        entry = await catalog.upsert_catalog_playlist(
            s,
            guild_id=guild_id,
            owner_discord_user_id=owner,
            provider_playlist_id="p" * 22,
            url="https://open.spotify.com/playlist/" + "p" * 22,
            name=name,
            status=PlaylistStatus.READY,
        )
        await catalog.update_catalog_metadata(s, entry, name=name)
        await catalog.replace_catalog_tracks(
            s,
            entry,
            [
                TrackData(
                    title=t.name,
                    artists=names(t),
                    duration_ms=t.duration_ms,
                    isrc=t.isrc,
                    provider_track_id=t.id,
                    provider_uri=t.uri,
                )
                for t in tracks
            ],
        )
    return entry


async def start_import(
    services: BotServices,
    fake_discord: FakeDiscord,
    guild_id: int,
    channel_id: int,
    member: Member,
    entry: int,
) -> int:
    """What /import does: the import and its ledger, a progress message, a dispatched run."""
    async with services.sessions.begin() as s:
        row = await imports.create_import_with_ledger(
            s,
            guild_id=guild_id,
            discord_user_id=member.id,
            catalog_playlist_id=entry,
            channel_id=channel_id,
        )
    message = await asyncio.to_thread(post_message, fake_discord, channel_id, "Importing…")
    async with services.sessions.begin() as s:
        await imports.set_message_id(s, row.id, int(message["id"]))
    await services.dispatcher.import_playlist(
        ImportInput(import_id=row.id, discord_user_id=member.id), guild_id=guild_id
    )
    return row.id


def post_message(fake: FakeDiscord, channel_id: int, content: str) -> dict[str, Any]:
    """A channel message posted over the fake's REST API, as the bot would post it."""
    response = requests.post(
        f"{fake.api_base}/channels/{channel_id}/messages",
        json={"content": content},
        headers={"Authorization": f"Bot {fake.token}"},
        timeout=5,
    )
    response.raise_for_status()
    return dict(response.json())


async def wait_finished(services: BotServices, import_id: int, within: float) -> Import:

    async def finished() -> Import | None:
        async with services.sessions.begin() as s:
            row = await imports.get_import(s, import_id)
        return row if row is not None and row.status.is_terminal else None

    return await async_wait_until(
        finished,
        timeout=within,
        interval=0.25,
        message=f"import {import_id} not finished within {within}s",
    )


def target_uris(fake: FakeSpotify, row: Import) -> list[str | None]:
    assert row.target_playlist_id
    return fake.playlist_uris(row.target_playlist_id)


async def test_a_1000_track_import_lands_once_in_order(
    fake_spotify: FakeSpotify,
    fake_discord: FakeDiscord,
    services: BotServices,
    worker: WorkerProcess,
    guild_id: int,
    channel_id: int,
    alice: Member,
    bob: Member,
) -> None:
    songs = fake_spotify.generate_tracks(1_000, seed=21)
    entry = await catalog_entry(services, fake_spotify, guild_id, alice.id, songs)
    await link_directly(services, fake_spotify, bob)
    fake_spotify.reset_calls()

    import_id = await start_import(services, fake_discord, guild_id, channel_id, bob, entry)
    row = await wait_finished(services, import_id, within=120)

    assert row.status is ImportStatus.COMPLETED, row.error
    assert target_uris(fake_spotify, row) == [s.uri for s in songs]
    assert fake_spotify.count(ADD) <= 10
    assert fake_spotify.count(CREATE) == 1
    assert (row.added, row.already_present, row.not_found, row.failed) == (1_000, 0, 0, 0)
    calls = {route: fake_spotify.count(route) for route in {c.route for c in fake_spotify.calls}}
    print(f"calls by route for a 1,000-track import: {calls}")
    [message] = fake_discord.messages(channel_id, include_ephemeral=False, include_replies=False)
    await fake_discord.async_wait_for(
        lambda: (
            "Imported" in embed_text(fake_discord.message(channel_id, int(message["id"]))["embeds"])
        ),
        within=10,
    )

    # Importing the same playlist again adds nothing: it is all already there.
    fake_spotify.reset_calls()
    again = await start_import(services, fake_discord, guild_id, channel_id, bob, entry)
    row = await wait_finished(services, again, within=60)
    assert row.status is ImportStatus.COMPLETED, row.error
    assert target_uris(fake_spotify, row) == [s.uri for s in songs]
    assert (row.added, row.already_present) == (0, 1_000)
    assert fake_spotify.count(ADD) == 0 and fake_spotify.count(CREATE) == 0


async def test_429_storm_and_dropped_adds_never_duplicate(
    fake_spotify: FakeSpotify,
    fake_discord: FakeDiscord,
    services: BotServices,
    worker: WorkerProcess,
    guild_id: int,
    channel_id: int,
    alice: Member,
    bob: Member,
) -> None:
    songs = fake_spotify.generate_tracks(450, seed=22)
    entry = await catalog_entry(services, fake_spotify, guild_id, alice.id, songs)
    await link_directly(services, fake_spotify, bob)
    fake_spotify.inject(ADD, "429", times=3, retry_after=1)
    fake_spotify.inject(ADD, "drop", times=2)  # applied, then the answer is lost
    fake_spotify.inject(ITEMS, "5xx", times=1, status=502)

    import_id = await start_import(services, fake_discord, guild_id, channel_id, bob, entry)
    row = await wait_finished(services, import_id, within=150)

    assert row.status is ImportStatus.COMPLETED, row.error
    assert target_uris(fake_spotify, row) == [s.uri for s in songs]
    assert fake_spotify.calls_inside_retry_after_windows() == []
    assert fake_spotify.count(ADD, status=429) == 3


async def test_tracks_without_uri_are_searched_and_cached(
    fake_spotify: FakeSpotify,
    fake_discord: FakeDiscord,
    services: BotServices,
    worker: WorkerProcess,
    guild_id: int,
    channel_id: int,
    alice: Member,
    bob: Member,
) -> None:
    songs = fake_spotify.generate_tracks(6, seed=23)
    entry = await catalog_entry(services, fake_spotify, guild_id, alice.id, songs)
    async with services.sessions.begin() as s:  # as if shared from another service
        await catalog.replace_catalog_tracks(
            s,
            entry,
            [
                *[
                    TrackData(
                        title=t.name, artists=names(t), duration_ms=t.duration_ms, isrc=t.isrc
                    )
                    for t in songs[:3]
                ],
                *[
                    TrackData(title=t.name, artists=names(t), duration_ms=t.duration_ms)
                    for t in songs[3:5]
                ],
                TrackData(title="No Such Song Anywhere", artists=("Nobody",), duration_ms=1_000),
            ],
        )
    await link_directly(services, fake_spotify, bob)

    import_id = await start_import(services, fake_discord, guild_id, channel_id, bob, entry)
    row = await wait_finished(services, import_id, within=90)

    assert row.status is ImportStatus.COMPLETED, row.error
    assert target_uris(fake_spotify, row) == [s.uri for s in songs[:5]]
    assert (row.added, row.not_found) == (5, 1)
    searches = fake_spotify.count("GET /v1/search")
    again = await start_import(services, fake_discord, guild_id, channel_id, bob, entry)
    await wait_finished(services, again, within=60)
    assert fake_spotify.count("GET /v1/search") == searches  # the match cache answered


async def test_a_long_retry_after_pauses_visibly_then_resumes(
    fake_spotify: FakeSpotify,
    fake_discord: FakeDiscord,
    services: BotServices,
    start_mixtape_worker: Callable[..., Awaitable[WorkerProcess]],
    guild_id: int,
    channel_id: int,
    alice: Member,
    bob: Member,
) -> None:
    songs = fake_spotify.generate_tracks(150, seed=24)
    entry = await catalog_entry(services, fake_spotify, guild_id, alice.id, songs)
    await link_directly(services, fake_spotify, bob)
    await start_mixtape_worker({"PAUSE_AFTER_RETRY_AFTER_SECONDS": "3"})
    fake_spotify.inject(ADD, "429", retry_after=5)

    import_id = await start_import(services, fake_discord, guild_id, channel_id, bob, entry)
    [message] = fake_discord.messages(channel_id, include_ephemeral=False, include_replies=False)
    await fake_discord.async_wait_for(
        lambda: (
            "Paused" in embed_text(fake_discord.message(channel_id, int(message["id"]))["embeds"])
        ),
        within=30,
    )
    async with services.sessions.begin() as s:
        paused = await imports.get_import(s, import_id)
    assert paused is not None and paused.status is ImportStatus.PAUSED
    assert paused.resume_at is not None

    row = await wait_finished(services, import_id, within=60)
    assert row.status is ImportStatus.COMPLETED, row.error
    assert target_uris(fake_spotify, row) == [s.uri for s in songs]
    assert fake_spotify.calls_inside_retry_after_windows() == []


async def test_a_target_near_spotifys_limit_gets_what_fits_and_says_why(
    fake_spotify: FakeSpotify,
    fake_discord: FakeDiscord,
    services: BotServices,
    worker: WorkerProcess,
    guild_id: int,
    channel_id: int,
    alice: Member,
    bob: Member,
) -> None:
    songs = fake_spotify.generate_tracks(10_010, seed=25)
    wanted, filler = songs[:20], songs[20:]  # 9,990 unrelated entries already in the target
    entry = await catalog_entry(services, fake_spotify, guild_id, alice.id, wanted)
    await link_directly(services, fake_spotify, bob)
    fake_spotify.add_playlist(
        "bob", "Summer", filler, description=f"Imported with Mixtape. {marker(guild_id, entry)}"
    )

    import_id = await start_import(services, fake_discord, guild_id, channel_id, bob, entry)
    row = await wait_finished(services, import_id, within=120)

    assert row.status is ImportStatus.COMPLETED, row.error
    assert target_uris(fake_spotify, row) == [s.uri for s in filler + wanted[:10]]
    assert (row.added, row.failed) == (10, 10)
    [message] = fake_discord.messages(channel_id, include_ephemeral=False, include_replies=False)
    await fake_discord.async_wait_for(
        lambda: (
            "10,000 tracks"
            in embed_text(fake_discord.message(channel_id, int(message["id"]))["embeds"])
        ),
        within=10,
    )


async def test_tracks_that_wont_play_in_the_members_country_are_reported_before_adding(
    driver: InteractionDriver,
    fake_spotify: FakeSpotify,
    fake_discord: FakeDiscord,
    services: BotServices,
    worker: WorkerProcess,
    guild_id: int,
    channel_id: int,
    alice: Member,
    bob: Member,
) -> None:
    fake_spotify.add_user("dora", "Dora", country="DE")
    songs = fake_spotify.generate_tracks(5, seed=26)
    entry = await catalog_entry(services, fake_spotify, guild_id, bob.id, songs)
    async with services.sessions.begin() as s:  # as the share read them: two are US-only
        await catalog.replace_catalog_tracks(
            s,
            entry,
            [
                TrackData(
                    title=t.name,
                    artists=names(t),
                    duration_ms=t.duration_ms,
                    provider_track_id=t.id,
                    provider_uri=t.uri,
                    markets=["US"] if i in (1, 3) else ["DE", "US"],
                )
                for i, t in enumerate(songs)
            ],
        )
    await link(driver, fake_spotify, "dora")  # Alice links Dora's Spotify account
    async with services.sessions.begin() as s:  # the country came from /me, through /link
        account = await accounts.get_account(s, alice.id)
    assert account is not None and account.country == "DE"
    first_add = fake_spotify.inject(ADD, "delay", seconds=2)

    import_id = await start_import(services, fake_discord, guild_id, channel_id, alice, entry)
    [message] = fake_discord.messages(channel_id, include_ephemeral=False, include_replies=False)
    await _until_fired(first_add)

    shown = embed_text(fake_discord.message(channel_id, int(message["id"]))["embeds"])
    assert "Won't play in DE (2)" in shown  # said while the first add is still in flight
    assert songs[1].name in shown and songs[3].name in shown and songs[0].name not in shown
    row = await wait_finished(services, import_id, within=60)
    assert row.status is ImportStatus.COMPLETED, row.error
    assert target_uris(fake_spotify, row) == [s.uri for s in songs]  # reported, still added
    assert fake_spotify.playlist(row.target_playlist_id or "").owner_id == "dora"


async def _until_fired(fault: Any, within: float = 30.0) -> None:
    await async_wait_until(lambda: fault.fired >= 1, timeout=within, message="the add never came")


async def test_fifteen_songs_not_found_are_all_reported_and_the_owner_alone_is_told(
    fake_spotify: FakeSpotify,
    fake_discord: FakeDiscord,
    services: BotServices,
    worker: WorkerProcess,
    guild_id: int,
    channel_id: int,
    alice: Member,
    bob: Member,
) -> None:
    songs = fake_spotify.generate_tracks(2, seed=31)
    entry = await catalog_entry(services, fake_spotify, guild_id, alice.id, songs)
    async with services.sessions.begin() as s:
        await catalog.replace_catalog_tracks(
            s,
            entry,
            [
                *[
                    TrackData(
                        title=t.name,
                        artists=names(t),
                        duration_ms=t.duration_ms,
                        isrc=t.isrc,
                        provider_track_id=t.id,
                        provider_uri=t.uri,
                    )
                    for t in songs
                ],
                *[
                    TrackData(title=f"No Such Song {i}", artists=("Nobody",), duration_ms=1_000)
                    for i in range(15)
                ],
            ],
            skipped={"local file": 2, "unavailable": 1},
        )
    await link_directly(services, fake_spotify, bob)

    import_id = await start_import(services, fake_discord, guild_id, channel_id, bob, entry)
    row = await wait_finished(services, import_id, within=90)

    assert row.status is ImportStatus.COMPLETED, row.error
    assert (row.added, row.not_found) == (2, 15)
    assert row.message_id is not None
    message_id = row.message_id

    def summary() -> str:
        message = fake_discord.message(channel_id, message_id) or {}
        return embed_text(message.get("embeds") or [])

    await fake_discord.async_wait_for(lambda: "Imported Summer" in summary(), within=30)
    shown = summary()
    for i in range(15):
        assert f"No Song {i}" not in shown and f"No Such Song {i} — Nobody" in shown
    assert "Not imported (15)" in shown and "more" not in shown
    assert f"Import #{import_id}" in shown and f"<@{bob.id}>" in shown
    assert "2 local files, 1 song no longer on Spotify" in shown

    def notices() -> list[Any]:
        return [
            c
            for c in fake_discord.calls("POST /channels/{channel_id}/messages")
            if c.status == 200 and str((c.request or {}).get("content", "")).startswith("<@")
        ]

    await fake_discord.async_wait_for(lambda: len(notices()) == 1, within=30)
    [notice] = notices()
    assert notice.request["content"].startswith(f"<@{bob.id}> your import of **Summer** is done")
    assert notice.request["allowed_mentions"] == {"parse": [], "users": [str(bob.id)]} or (
        notice.request["allowed_mentions"]["users"] in ([bob.id], [str(bob.id)])
        and notice.request["allowed_mentions"]["parse"] == []
    )
    assert notice.request["message_reference"]["message_id"] in (message_id, str(message_id))
    # Discord shows it as a reply under the progress message.
    [reply] = [m for m in fake_discord.messages(channel_id) if m.get("type") == 19]
    assert reply["message_reference"]["message_id"] == str(message_id)
    assert reply["referenced_message"]["id"] == str(message_id)
