"""Imports stay exact whatever the member did to the target, and none is left stranded.

On the real engine and worker, against the fake Spotify; the fake's playlists are the truth.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable

import pytest
from hatchet_sdk.clients.rest.models.v1_task_status import V1TaskStatus

from bot.services import BotServices
from devtools.worker_process import WorkerProcess
from fakes.discord_api import FakeDiscord
from fakes.spotify import FakeSpotify
from storage import catalog, imports
from storage.enums import ImportStatus, PlaylistStatus
from tests.bot.e2e.test_engine_restart import services_hatchet
from tests.bot.e2e.test_import import (
    catalog_entry,
    start_import,
    target_uris,
    wait_finished,
)
from tests.bot.support import Member, embed_text, link_directly, wait_for_run_status
from tests.waiting import async_wait_until
from workflows.contracts import ImportInput, ShareInput
from workflows.import_playlist import LOST_TARGET_NOTE
from workflows.watchdog import WATCHDOG

pytestmark = pytest.mark.engine

ADD = "POST /v1/playlists/{id}/items"
CREATE = "POST /v1/me/playlists"


async def test_a_reimport_after_the_member_edited_the_copy_never_goes_beyond_the_source(
    fake_spotify: FakeSpotify,
    fake_discord: FakeDiscord,
    services: BotServices,
    worker: WorkerProcess,
    guild_id: int,
    channel_id: int,
    alice: Member,
    bob: Member,
) -> None:
    songs = fake_spotify.generate_tracks(20, seed=61)
    entry = await catalog_entry(services, fake_spotify, guild_id, alice.id, songs)
    await link_directly(services, fake_spotify, bob)
    first = await wait_finished(
        services,
        await start_import(services, fake_discord, guild_id, channel_id, bob, entry),
        within=60,
    )
    assert first.status is ImportStatus.COMPLETED and first.target_playlist_id
    # The member removes the fifth song and adds one of their own at the front.
    own = fake_spotify.generate_tracks(1, seed=62)[0]
    target = fake_spotify.playlist(first.target_playlist_id)
    with fake_spotify.lock:
        del target.entries[4]
    fake_spotify.insert_entries(target.id, fake_spotify.resolve_uris([own.uri], "bob"), 0)

    again = await wait_finished(
        services,
        await start_import(services, fake_discord, guild_id, channel_id, bob, entry),
        within=60,
    )

    assert again.status is ImportStatus.COMPLETED, again.error
    assert again.target_playlist_id == first.target_playlist_id
    after = target_uris(fake_spotify, again)
    assert Counter(after) == Counter([own.uri] + [s.uri for s in songs])  # one of each
    assert after[-1] == songs[4].uri  # only the missing song was appended
    assert (again.added, again.already_present) == (1, 19)


async def test_retry_after_the_member_deleted_the_target_fills_a_new_one(
    fake_spotify: FakeSpotify,
    fake_discord: FakeDiscord,
    services: BotServices,
    worker: WorkerProcess,
    guild_id: int,
    channel_id: int,
    alice: Member,
    bob: Member,
) -> None:
    songs = fake_spotify.generate_tracks(250, seed=63)
    entry = await catalog_entry(services, fake_spotify, guild_id, alice.id, songs)
    await link_directly(services, fake_spotify, bob)
    held = fake_spotify.inject(ADD, "delay", seconds=2, skip=1)  # the second batch lingers

    import_id = await start_import(services, fake_discord, guild_id, channel_id, bob, entry)
    await async_wait_until(lambda: held.fired >= 1, timeout=60, message="the second add never came")
    async with services.sessions.begin() as s:
        row = await imports.get_import(s, import_id)
    assert row is not None and row.target_playlist_id
    lost = row.target_playlist_id
    fake_spotify.delete_playlist(lost)  # the member deletes it mid-import
    stopped = await wait_finished(services, import_id, within=60)
    assert stopped.status is ImportStatus.FAILED
    assert stopped.error and "/retry" in stopped.error

    # /retry: what the command does, with the run it starts.
    async with services.sessions.begin() as s:
        await imports.reset_unadded_for_retry(s, import_id)
    await services.dispatcher.import_playlist(
        ImportInput(import_id=import_id, discord_user_id=bob.id), guild_id=guild_id
    )
    row = await wait_finished(services, import_id, within=60)

    assert row.status is ImportStatus.COMPLETED, row.error
    assert row.target_playlist_id and row.target_playlist_id != lost
    assert target_uris(fake_spotify, row) == [s.uri for s in songs]  # all of them, once
    assert (row.added, row.already_present) == (250, 0)
    assert row.message_id is not None  # the progress message (the owner's ping is another)
    progress_id = row.message_id
    await fake_discord.async_wait_for(
        lambda: (
            LOST_TARGET_NOTE[:40]
            in embed_text(fake_discord.message(channel_id, progress_id)["embeds"])
        ),
        within=10,
    )


async def test_an_import_saved_but_never_started_is_started_by_the_watchdog(
    fake_spotify: FakeSpotify,
    fake_discord: FakeDiscord,
    services: BotServices,
    start_mixtape_worker: Callable[..., Awaitable[WorkerProcess]],
    guild_id: int,
    channel_id: int,
    alice: Member,
    bob: Member,
) -> None:
    songs = fake_spotify.generate_tracks(30, seed=64)
    entry = await catalog_entry(services, fake_spotify, guild_id, alice.id, songs)
    await link_directly(services, fake_spotify, bob)
    await start_mixtape_worker({"IMPORT_STALL_SECONDS": "1"})
    async with services.sessions.begin() as s:  # the bot stopped right after saving it
        saved = await imports.create_import_with_ledger(
            s,
            guild_id=guild_id,
            discord_user_id=bob.id,
            catalog_playlist_id=entry,
            channel_id=channel_id,
        )

    # The watchdog is a cron (every minute); run it now, as the engine would.
    await asyncio.sleep(1.1)  # older than IMPORT_STALL_SECONDS, by the row's own clock
    await services_hatchet(services).stubs.task(name=WATCHDOG).aio_run()
    row = await wait_finished(services, saved.id, within=60)

    assert saved.workflow_run_id is None and row.workflow_run_id is not None
    assert row.status is ImportStatus.COMPLETED, row.error
    assert target_uris(fake_spotify, row) == [s.uri for s in songs]


async def test_a_run_acting_as_another_member_is_refused_before_any_spotify_call(
    fake_spotify: FakeSpotify,
    fake_discord: FakeDiscord,
    services: BotServices,
    worker: WorkerProcess,
    guild_id: int,
    channel_id: int,
    alice: Member,
    bob: Member,
) -> None:
    """A forged run: Bob's import id with Alice's member id must not write into Alice's
    account (nor touch Bob's import)."""
    songs = fake_spotify.generate_tracks(5, seed=65)
    entry = await catalog_entry(services, fake_spotify, guild_id, alice.id, songs)
    await link_directly(services, fake_spotify, alice)
    await link_directly(services, fake_spotify, bob)
    async with services.sessions.begin() as s:
        bobs = await imports.create_import_with_ledger(
            s,
            guild_id=guild_id,
            discord_user_id=bob.id,
            catalog_playlist_id=entry,
            channel_id=channel_id,
        )
    fake_spotify.reset_calls()

    run_id = await services.dispatcher.import_playlist(
        ImportInput(import_id=bobs.id, discord_user_id=alice.id), guild_id=guild_id
    )
    await wait_for_run_status(services_hatchet(services), run_id, V1TaskStatus.FAILED, within=60)

    assert fake_spotify.calls == []  # not a single call, as anyone
    assert fake_spotify.playlists_of("ada") == [] and fake_spotify.playlists_of("bob") == []
    async with services.sessions.begin() as s:
        row = await imports.get_import(s, bobs.id)
        counts = await imports.counts_by_state(s, bobs.id)
    assert row is not None and row.status is ImportStatus.QUEUED and row.error is None
    assert (counts.total, counts.outstanding) == (5, 5)


async def test_a_share_run_for_someone_elses_private_playlist_puts_nothing_in_the_catalog(
    fake_spotify: FakeSpotify,
    fake_discord: FakeDiscord,
    services: BotServices,
    worker: WorkerProcess,
    guild_id: int,
    channel_id: int,
    alice: Member,
    bob: Member,
) -> None:
    """A forged share: Alice as the sharer of Bob's private playlist, which her grant can
    see the name of but neither owns nor collaborates on."""
    private = fake_spotify.add_playlist(
        "bob", "Diary", fake_spotify.generate_tracks(3, seed=66), public=False
    )
    await link_directly(services, fake_spotify, alice)
    async with services.sessions.begin() as s:
        entry = await catalog.upsert_catalog_playlist(
            s,
            guild_id=guild_id,
            owner_discord_user_id=alice.id,
            provider_playlist_id=private.id,
            url=f"https://open.spotify.com/playlist/{private.id}",
            name="Diary",
        )

    run_id = await services.dispatcher.share_playlist(
        ShareInput(
            catalog_playlist_id=entry, sharer_discord_user_id=alice.id, channel_id=channel_id
        ),
        guild_id=guild_id,
        user_id=alice.id,
    )
    await wait_for_run_status(services_hatchet(services), run_id, V1TaskStatus.COMPLETED, within=60)

    async with services.sessions.begin() as s:
        row = await catalog.get_catalog_playlist(s, entry)
        tracks = await catalog.list_tracks(s, entry)
    assert row is not None and row.status is PlaylistStatus.FAILED
    assert row.error and "owner or a collaborator" in row.error
    assert tracks == []
    assert fake_spotify.count("GET /v1/playlists/{id}/items") == 0


async def test_a_copy_the_member_deleted_on_spotify_is_not_written_into_again(
    fake_spotify: FakeSpotify,
    fake_discord: FakeDiscord,
    services: BotServices,
    worker: WorkerProcess,
    guild_id: int,
    channel_id: int,
    alice: Member,
    bob: Member,
) -> None:
    """Spotify's "delete" is an unfollow: the owner could still add to the playlist, so an
    import that found it by id or marker would silently fill a playlist the member no
    longer sees. It is noticed as gone from their library instead."""
    songs = fake_spotify.generate_tracks(20, seed=67)
    entry = await catalog_entry(services, fake_spotify, guild_id, alice.id, songs)
    await link_directly(services, fake_spotify, bob)
    first = await wait_finished(
        services,
        await start_import(services, fake_discord, guild_id, channel_id, bob, entry),
        within=60,
    )
    assert first.status is ImportStatus.COMPLETED and first.target_playlist_id
    bobs = fake_spotify.spotify_client(fake_spotify.issue_token("bob").access_token)
    bobs.current_user_unfollow_playlist(first.target_playlist_id)  # the member deletes it

    again = await wait_finished(
        services,
        await start_import(services, fake_discord, guild_id, channel_id, bob, entry),
        within=60,
    )

    assert again.status is ImportStatus.COMPLETED, again.error
    assert again.target_playlist_id not in (None, first.target_playlist_id)
    assert target_uris(fake_spotify, again) == [s.uri for s in songs]
    assert fake_spotify.playlist_uris(first.target_playlist_id) == [s.uri for s in songs]
