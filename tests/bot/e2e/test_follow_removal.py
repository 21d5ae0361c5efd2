"""Followers who chose `remove_gone`: songs that leave the source leave their copy, only the
ones Mixtape added, never ones the member added by hand; followers who did not choose it
keep every song. Through /import, /follow, the scheduled check, the real engine and worker,
and the fake Spotify's remove (which, like Spotify's, removes every occurrence of a URI)."""

from __future__ import annotations

from collections import Counter

import pytest

from devtools.worker_process import WorkerProcess
from fakes.interactions import InteractionDriver
from fakes.spotify import FakeSpotify
from storage import removals
from storage.enums import ImportStatus
from storage.models import CatalogPlaylist
from tests.bot.e2e.test_follow import (
    Following,
    entry_when,
    imports_of,
    run_schedule,
    wait_for_import_count,
    world,  # noqa: F401  (the fixture)
)
from tests.bot.e2e.test_import import wait_finished
from tests.bot.support import pick

pytestmark = pytest.mark.engine

REMOVE = "DELETE /v1/playlists/{id}/items"


async def _after_check(world: Following, entry: CatalogPlaylist) -> CatalogPlaylist:  # noqa: F811
    """One scheduled check, then the entry once its re-read measured a change."""
    before = entry.changed_at
    await run_schedule(world.services)
    return await entry_when(
        world.services, entry.id, lambda e: e.changed_at != before and e.status.value == "ready", 90
    )


async def test_songs_that_left_the_source_leave_the_copy_only_if_mixtape_added_them(
    world: Following,  # noqa: F811
    driver: InteractionDriver,
    fake_spotify: FakeSpotify,
    worker: WorkerProcess,
) -> None:
    songs = fake_spotify.generate_tracks(12, seed=171)
    own = fake_spotify.generate_tracks(1, seed=172)[0]
    # The source holds song 7 twice.
    source, entry, first = await world.followed("Late Night Drive", songs[:8] + [songs[7]])
    copy = first.target_playlist_id
    assert copy
    chose = await driver.slash(
        "follow", {"playlist": pick(entry.id), "remove_gone": True}, user=world.bob.user
    )
    assert "only ones Mixtape added" in str((await chose.response()).data.get("content"))
    # Bob's own hand in his copy: a song of his, and a second copy of song 3.
    fake_spotify.insert_entries(copy, fake_spotify.resolve_uris([own.uri, songs[3].uri], "bob"), 0)
    # The sharer drops songs 2 and 3, one of the two 7s, and adds song 11.
    uris = fake_spotify.playlist_uris(source.id)
    fake_spotify.remove_entries(
        source.id,
        [uris.index(songs[2].uri), uris.index(songs[3].uri), len(uris) - 1],
    )
    fake_spotify.insert_entries(source.id, fake_spotify.resolve_uris([songs[11].uri], "ada"), None)
    fake_spotify.reset_calls()

    changed = await _after_check(world, entry)
    assert (changed.change_added, changed.change_removed) == (1, 3)
    rows = await wait_for_import_count(world.services, world.bob, 2, within=60)
    update = await wait_finished(world.services, rows[-1].id, within=90)

    assert update.status is ImportStatus.COMPLETED, update.error
    assert update.follow_remove and update.target_playlist_id == copy
    held = Counter(fake_spotify.playlist_uris(copy))
    # Song 2 is gone (Mixtape's only); song 3 stays whole (Bob added one himself: Spotify
    # removes every occurrence or none); both 7s stay (the source still holds it); Bob's
    # own song stays; song 11 is appended.
    assert held == Counter(
        [own.uri, songs[3].uri]
        + [s.uri for s in songs[:8] if s is not songs[2]]
        + [songs[7].uri, songs[11].uri]
    )
    assert fake_spotify.count(REMOVE) == fake_spotify.count(REMOVE, user="bob", status=200) == 1
    async with world.services.sessions.begin() as s:
        assert await removals.removed_count(s, update.id) == 1

    # A change that only removes reaches a follower who chose removal, and nobody else.
    fake_spotify.reset_calls()
    uris = fake_spotify.playlist_uris(source.id)
    fake_spotify.remove_entries(source.id, [uris.index(songs[5].uri)])
    await _after_check(world, changed)
    rows = await wait_for_import_count(world.services, world.bob, 3, within=60)
    last = await wait_finished(world.services, rows[-1].id, within=90)
    assert last.status is ImportStatus.COMPLETED, last.error
    assert songs[5].uri not in fake_spotify.playlist_uris(copy)
    assert (
        fake_spotify.count(REMOVE) == 1 and fake_spotify.count("POST /v1/playlists/{id}/items") == 0
    )


async def test_a_change_that_only_removes_reaches_no_copy_of_a_follower_who_keeps_songs(
    world: Following,  # noqa: F811
    fake_spotify: FakeSpotify,
    worker: WorkerProcess,
) -> None:
    songs = fake_spotify.generate_tracks(5, seed=173)
    source, entry, first = await world.followed("Keepers", songs)
    assert first.target_playlist_id
    fake_spotify.remove_entries(source.id, [0])
    fake_spotify.reset_calls()

    changed = await _after_check(world, entry)

    assert (changed.change_added, changed.change_removed) == (0, 1)
    assert fake_spotify.playlist_uris(first.target_playlist_id) == [s.uri for s in songs]
    assert len(await imports_of(world.services, world.bob)) == 1
    assert fake_spotify.count(REMOVE) == 0
