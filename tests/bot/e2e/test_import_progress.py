"""Progress never slows or fails an import, and a target marker names exactly one entry.

On the real engine and worker, against the fake Discord and fake Spotify.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any

import pytest

from bot.services import BotServices
from devtools.worker_process import WorkerProcess
from fakes.discord_api import FakeDiscord
from fakes.interactions import FakeUser
from fakes.spotify import FakeSpotify
from storage import catalog
from storage.catalog import TrackData
from storage.enums import ImportStatus, PlaylistStatus
from tests.bot.e2e.test_import import names, start_import, target_uris, wait_finished
from tests.bot.support import Member, embed_text, link_directly

pytestmark = pytest.mark.engine

EDIT = "PATCH /channels/{channel_id}/messages/{message_id}"
ADD = "POST /v1/playlists/{id}/items"


async def _entries_up_to(
    services: BotServices, guild_id: int, owner: int, last: int, songs: dict[int, list[Any]]
) -> None:
    """Catalog entries 1..`last` in this guild (a fresh database numbers them from 1);
    those named in `songs` hold those tracks."""
    async with services.sessions.begin() as s:
        for number in range(1, last + 1):
            pid = f"{number:0>22}"
            entry = await catalog.upsert_catalog_playlist(
                s,
                guild_id=guild_id,
                owner_discord_user_id=owner,
                provider_playlist_id=pid,
                url=f"https://open.spotify.com/playlist/{pid}",
                name=f"Entry {number}",
                status=PlaylistStatus.READY,
            )
            assert entry == number, "the database does not number entries from 1"
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
                    for t in songs.get(number, [])
                ],
            )


async def test_entries_1_10_and_100_each_land_in_their_own_playlist_in_any_order(
    fake_spotify: FakeSpotify,
    fake_discord: FakeDiscord,
    services: BotServices,
    worker: WorkerProcess,
    guild_id: int,
    channel_id: int,
    alice: Member,
) -> None:
    songs = {n: fake_spotify.generate_tracks(3, seed=n) for n in (1, 10, 100)}
    await _entries_up_to(services, guild_id, alice.id, 100, songs)
    orders = list(itertools.permutations((1, 10, 100)))
    members = []
    for index, _ in enumerate(orders):
        spotify_id = f"order{index}"
        fake_spotify.add_user(spotify_id, f"Order {index}")
        members.append(Member(FakeUser(10**17 + index, spotify_id), spotify_id))
        await link_directly(services, fake_spotify, members[-1])
    # One member already has entry 10's copy, marked the way Mixtape marked it before.
    old = fake_spotify.add_playlist(
        "order0",
        "Entry 10",
        songs[10][:1],
        description=f"Imported with Mixtape. mixtape-import:{guild_id}:10",
    )

    async def import_in_order(member: Member, order: tuple[int, ...]) -> dict[int, str]:
        targets = {}
        for entry in order:
            import_id = await start_import(
                services, fake_discord, guild_id, channel_id, member, entry
            )
            row = await wait_finished(services, import_id, within=120)
            assert row.status is ImportStatus.COMPLETED, row.error
            assert row.target_playlist_id is not None
            assert target_uris(fake_spotify, row) == [s.uri for s in songs[entry]]
            targets[entry] = row.target_playlist_id
        return targets

    found = await asyncio.gather(
        *(import_in_order(m, o) for m, o in zip(members, orders, strict=True))
    )
    for member, targets in zip(members, found, strict=True):
        assert len(set(targets.values())) == 3, f"{member.spotify_id} shared a target"
        owned = {p.id for p in fake_spotify.playlists_of(str(member.spotify_id))}
        assert owned == set(targets.values())
    assert found[0][10] == old.id  # the old-style marker is still found, exactly


async def test_discord_rate_limiting_every_edit_for_a_minute_neither_fails_nor_stalls(
    fake_spotify: FakeSpotify,
    fake_discord: FakeDiscord,
    services: BotServices,
    worker: WorkerProcess,
    guild_id: int,
    channel_id: int,
    alice: Member,
    bob: Member,
) -> None:
    songs = fake_spotify.generate_tracks(500, seed=41)
    await _entries_up_to(services, guild_id, alice.id, 1, {1: songs})
    await link_directly(services, fake_spotify, bob)
    for _ in range(5):
        fake_spotify.inject(ADD, "delay", seconds=0.5)  # adds spread over a few seconds
    # Longer than discord.py waits by itself (30 s): it raises RateLimited to the caller.
    fake_discord.force_429(EDIT, retry_after=60, for_seconds=60)
    limited_until = time.monotonic() + 60

    import_id = await start_import(services, fake_discord, guild_id, channel_id, bob, 1)
    row = await wait_finished(services, import_id, within=50)

    assert time.monotonic() < limited_until, "the import waited on Discord"
    assert row.status is ImportStatus.COMPLETED, row.error
    assert target_uris(fake_spotify, row) == [s.uri for s in songs]
    [message] = fake_discord.messages(channel_id, include_ephemeral=False, include_replies=False)
    assert "Imported" not in embed_text(message.get("embeds") or [])
    # Once Discord lets edits through again, the summary still lands.
    await fake_discord.async_wait_for(
        lambda: (
            "Imported" in embed_text(fake_discord.message(channel_id, int(message["id"]))["embeds"])
        ),
        within=120,
    )
