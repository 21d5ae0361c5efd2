"""`/share` and `/unshare` through the real command tree, with runs counted on the engine."""

from __future__ import annotations

import logging
import re
import time
from typing import Any

import pytest
from hatchet_sdk import Hatchet
from sqlalchemy import select

from bot.client import MixtapeBot
from bot.services import BotServices
from fakes.discord_api import FakeDiscord
from fakes.interactions import MANAGE_GUILD, InteractionDriver
from fakes.spotify import FakeSpotify
from storage import catalog
from storage.enums import PlaylistStatus
from storage.models import CatalogPlaylist
from tests.bot.support import (
    DEADLINE_SECONDS,
    Member,
    add_entry,
    assert_discord_limits,
    assert_no_mentions_allowed,
    dm_slash,
    embed_text,
    link_directly,
    pick,
    settled_runs,
    unshare_confirmed,
    wait_for_runs,
)

pytestmark = pytest.mark.engine

PLAYLISTS_READ = "GET /v1/playlists/{id}"
ALBUM = "https://open.spotify.com/album/4aawyAB9vmqN3uQ7FjRGTy"
TRACK = "spotify:track:6rqhFgbbKwnb9MLmUQDhG6"
NOT_LOADING = 128  # the "thinking…" flag


async def catalog_rows(services: BotServices) -> list[CatalogPlaylist]:
    async with services.sessions.begin() as session:
        return list((await session.scalars(select(CatalogPlaylist))).all())


def original_text(message: dict[str, Any]) -> str:
    return "\n".join([message.get("content") or "", embed_text(message.get("embeds") or [])])


def done_thinking(message: dict[str, Any]) -> bool:
    return not int(message.get("flags") or 0) & NOT_LOADING


@pytest.mark.parametrize(
    ("pasted", "expected"),
    [
        (ALBUM, "That's a Spotify album link, not a playlist."),
        (TRACK, "That's a Spotify track link, not a playlist."),
        ("https://music.youtube.com/playlist?list=PLx", "That isn't a Spotify link."),
        ("my favourite songs!!", "That isn't a Spotify link."),
        ("x" * 10_000, "That is 10,000 characters long"),
        ("   ", "Paste a Spotify playlist link"),
        ("https://open.spotify.com/playlist/37i9dQZF1DXcBWIGoY", "looks cut off or changed"),
    ],
    ids=["album", "track", "other-site", "garbage", "10k-chars", "empty", "cut-off-id"],
)
async def test_rejected_input_gets_a_specific_private_error_and_dispatches_nothing(
    pasted: str,
    expected: str,
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
    started = time.monotonic()

    reply = await (await driver.slash("share", {"url": pasted})).response()

    assert reply.at - started < DEADLINE_SECONDS
    assert reply.ephemeral
    assert expected in embed_text(reply.embeds)
    assert fake_discord.messages(channel_id, include_ephemeral=False) == []
    assert fake_spotify.count(PLAYLISTS_READ) == 0
    assert await catalog_rows(services) == []
    assert await settled_runs(bot_hatchet, services.dispatcher, guild_id) == []


async def test_not_linked_points_to_link(
    driver: InteractionDriver,
    fake_spotify: FakeSpotify,
    services: BotServices,
    bot_hatchet: Hatchet,
    carol: Member,
    guild_id: int,
) -> None:
    playlist = fake_spotify.add_playlist("ada", "Mine")
    started = time.monotonic()

    reply = await (
        await driver.slash("share", {"url": f"spotify:playlist:{playlist.id}"}, user=carol.user)
    ).response()

    assert reply.at - started < DEADLINE_SECONDS
    assert reply.ephemeral and "run `/link` first" in embed_text(reply.embeds)
    assert await settled_runs(bot_hatchet, services.dispatcher, guild_id) == []


async def test_someone_elses_playlist_is_refused(
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
    playlist = fake_spotify.add_playlist("bob", "Bob's public mix", public=True)

    handle = await driver.slash(
        "share", {"url": f"https://open.spotify.com/playlist/{playlist.id}"}
    )
    deferred = await handle.response()
    answer = await handle.original(until=done_thinking)

    assert deferred.ephemeral and deferred.type == 5
    assert "isn't yours" in original_text(answer)
    assert "Bob's public mix" in original_text(answer)
    assert fake_spotify.count(PLAYLISTS_READ) == 1  # one call decides
    assert fake_discord.messages(channel_id, include_ephemeral=False) == []
    assert await catalog_rows(services) == []
    assert await settled_runs(bot_hatchet, services.dispatcher, guild_id) == []


async def test_missing_playlist_is_explained(
    driver: InteractionDriver,
    fake_spotify: FakeSpotify,
    services: BotServices,
    bot_hatchet: Hatchet,
    alice: Member,
    guild_id: int,
) -> None:
    await link_directly(services, fake_spotify, alice)

    handle = await driver.slash("share", {"url": "spotify:playlist:" + "A" * 22})
    answer = await handle.original(until=done_thinking)

    assert "doesn't exist or is private" in original_text(answer)
    assert await settled_runs(bot_hatchet, services.dispatcher, guild_id) == []


async def test_valid_share_acks_posts_records_and_dispatches_once(
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
    playlist = fake_spotify.add_playlist("ada", "Road trip", fake_spotify.generate_tracks(3))
    started = time.monotonic()

    handle = await driver.slash(
        "share", {"url": f"<https://open.spotify.com/intl-de/playlist/{playlist.id}?si=abc>"}
    )
    deferred = await handle.response()
    ack = await handle.original(until=done_thinking)

    assert deferred.at - started < DEADLINE_SECONDS and deferred.ephemeral
    [progress] = fake_discord.messages(channel_id, include_ephemeral=False)
    assert progress["embeds"][0]["title"] == "Reading Road trip…"
    assert f"<@{alice.id}>" in progress["embeds"][0]["description"]
    assert_no_mentions_allowed(fake_discord.history(channel_id, int(progress["id"]))[0].body)
    assert "Sharing **Road trip**" in original_text(ack)
    assert f"/channels/{guild_id}/{channel_id}/{progress['id']}" in original_text(ack)
    [entry] = await catalog_rows(services)
    assert (entry.guild_id, entry.owner_discord_user_id, entry.provider_playlist_id) == (
        guild_id,
        alice.id,
        playlist.id,
    )
    assert (entry.name, entry.status) == ("Road trip", PlaylistStatus.PENDING)
    [run] = await wait_for_runs(bot_hatchet, guild_id, 1)
    assert run.additional_metadata is not None
    assert {k: v for k, v in run.additional_metadata.items() if k != "traceparent"} == {
        "guild_id": str(guild_id),
        "user_id": str(alice.id),
        "catalog_playlist_id": str(entry.id),
    }
    assert set(run.input["input"]) == {
        "catalog_playlist_id",
        "sharer_discord_user_id",
        "channel_id",
        "message_id",
        "refresh",
    }
    assert run.input["input"]["catalog_playlist_id"] == entry.id
    assert run.input["input"]["refresh"] is False  # a member's share speaks in the channel
    assert len(await settled_runs(bot_hatchet, services.dispatcher, guild_id)) == 1


async def test_dispatched_input_keeps_discord_ids_exact(
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
    playlist = fake_spotify.add_playlist("ada", "Exact ids")

    handle = await driver.slash("share", {"url": f"spotify:playlist:{playlist.id}"})
    await handle.original(until=done_thinking)

    [progress] = fake_discord.messages(channel_id, include_ephemeral=False)
    [run] = await wait_for_runs(bot_hatchet, guild_id, 1)
    sent = run.input["input"]
    assert int(sent["sharer_discord_user_id"]) == alice.id
    assert int(sent["channel_id"]) == channel_id
    assert int(sent["message_id"]) == int(progress["id"])


async def test_a_collaborator_may_share(
    driver: InteractionDriver,
    fake_spotify: FakeSpotify,
    services: BotServices,
    bot_hatchet: Hatchet,
    alice: Member,
    guild_id: int,
) -> None:
    await link_directly(services, fake_spotify, alice)
    playlist = fake_spotify.add_playlist("bob", "Band practice", collaborators=["ada"])

    handle = await driver.slash("share", {"url": f"spotify:playlist:{playlist.id}"})
    ack = await handle.original(until=done_thinking)

    assert "Sharing **Band practice**" in original_text(ack)
    assert len(await wait_for_runs(bot_hatchet, guild_id, 1)) == 1


async def test_slow_spotify_still_answers_within_the_deadline(
    driver: InteractionDriver,
    fake_discord: FakeDiscord,
    fake_spotify: FakeSpotify,
    services: BotServices,
    alice: Member,
) -> None:
    # A 1.5 s deadline and a 2 s Spotify keep the test short; the real ones are 3 s and more.
    fake_discord.callback_deadline = 1.5
    await link_directly(services, fake_spotify, alice)
    playlist = fake_spotify.add_playlist("ada", "Slow one")
    fake_spotify.inject(PLAYLISTS_READ, "delay", seconds=2.0)

    handle = await driver.slash("share", {"url": f"spotify:playlist:{playlist.id}"})
    deferred = await handle.response(within=1.5)
    ack = await handle.original(until=done_thinking, within=5.0)

    assert deferred.type == 5
    assert "Sharing **Slow one**" in original_text(ack)


async def test_share_in_a_dm_is_refused(
    driver: InteractionDriver, services: BotServices, fake_spotify: FakeSpotify, alice: Member
) -> None:
    await link_directly(services, fake_spotify, alice)
    playlist = fake_spotify.add_playlist("ada", "Mine")

    handle = dm_slash(driver, "share", {"url": f"spotify:playlist:{playlist.id}"}, alice.user)
    reply = await handle.response()

    assert reply.ephemeral and "works inside a server" in embed_text(reply.embeds)
    assert fake_spotify.count(PLAYLISTS_READ) == 0
    assert await catalog_rows(services) == []


async def test_a_dispatch_failure_is_reported_with_a_reference(
    driver: InteractionDriver,
    fake_discord: FakeDiscord,
    fake_spotify: FakeSpotify,
    services: BotServices,
    alice: Member,
    channel_id: int,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await link_directly(services, fake_spotify, alice)
    playlist = fake_spotify.add_playlist("ada", "Doomed")

    async def engine_down(*args: object, **kwargs: object) -> str:
        raise ConnectionError("engine unreachable")

    monkeypatch.setattr(services.dispatcher, "share_playlist", engine_down)
    with caplog.at_level(logging.ERROR, logger="bot.error_handler"):
        handle = await driver.slash("share", {"url": f"spotify:playlist:{playlist.id}"})
        answer = await handle.original(until=done_thinking)
        await handle.finished()

    match = re.search(r"reference `([0-9a-f]{8})`", original_text(answer))
    assert match is not None, original_text(answer)
    assert "Something went wrong on our side" in original_text(answer)
    assert any(
        match.group(1) in r.getMessage() and "share" in r.getMessage() for r in caplog.records
    )
    [entry] = await catalog_rows(services)
    assert entry.status is PlaylistStatus.FAILED
    [progress] = fake_discord.messages(channel_id, include_ephemeral=False)
    assert progress["embeds"][0]["title"] == "Couldn't share Doomed"


async def test_hostile_playlist_name_is_escaped_and_pings_nobody(
    driver: InteractionDriver,
    fake_discord: FakeDiscord,
    fake_spotify: FakeSpotify,
    services: BotServices,
    alice: Member,
    channel_id: int,
) -> None:
    await link_directly(services, fake_spotify, alice)
    name = "@everyone **bold** <@123> " + "y" * 300
    playlist = fake_spotify.add_playlist("ada", name)

    handle = await driver.slash("share", {"url": f"spotify:playlist:{playlist.id}"})
    await handle.original(until=done_thinking)

    [progress] = fake_discord.messages(channel_id, include_ephemeral=False)
    title = progress["embeds"][0]["title"]
    assert title.startswith("Reading @\u200beveryone \\*\\*bold\\*\\* <\u200b@123> yyy")
    assert title.endswith("…") and len(title) == 256
    assert progress["mentions"] == [] and progress["mention_everyone"] is False
    assert_discord_limits(progress["embeds"])
    assert_no_mentions_allowed(fake_discord.history(channel_id, int(progress["id"]))[0].body)


# -- /unshare ---------------------------------------------------------------------------------


async def test_unshare_by_owner(
    driver: InteractionDriver, services: BotServices, alice: Member, guild_id: int
) -> None:
    entry = await add_entry(services, guild_id, alice.id, "Mine")

    outcome = await unshare_confirmed(driver, pick(entry))

    assert outcome == "Removed **Mine** from this server's catalog."
    assert await catalog_rows(services) == []


async def test_unshare_by_a_manager(
    driver: InteractionDriver, services: BotServices, alice: Member, bob: Member, guild_id: int
) -> None:
    entry = await add_entry(services, guild_id, alice.id, "Alice's")

    outcome = await unshare_confirmed(driver, pick(entry), user=bob.user, permissions=MANAGE_GUILD)

    assert outcome.startswith("Removed")
    assert await catalog_rows(services) == []


async def test_unshare_by_anyone_else_is_refused(
    driver: InteractionDriver, services: BotServices, alice: Member, bob: Member, guild_id: int
) -> None:
    entry = await add_entry(services, guild_id, alice.id, "Alice's")

    reply = await (
        await driver.slash("unshare", {"playlist": pick(entry)}, user=bob.user)
    ).response()

    assert reply.ephemeral
    assert "Only the member who shared **Alice's**" in embed_text(reply.embeds)
    assert [row.id for row in await catalog_rows(services)] == [entry]


async def test_unshare_cannot_reach_another_server(
    bot: MixtapeBot,
    driver: InteractionDriver,
    services: BotServices,
    alice: Member,
    guild_id: int,
) -> None:
    elsewhere = await add_entry(services, guild_id + 1, alice.id, "Elsewhere")

    reply = await (
        await driver.slash("unshare", {"playlist": pick(elsewhere)}, permissions=MANAGE_GUILD)
    ).response()

    assert reply.ephemeral and "couldn't find that playlist" in embed_text(reply.embeds)
    async with services.sessions.begin() as session:
        assert await catalog.get_guild_playlist(session, guild_id + 1, elsewhere) is not None
