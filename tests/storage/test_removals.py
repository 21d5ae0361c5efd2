"""What a follower's update may remove from their copy: a song that left the source, only
when every occurrence in the copy is one Mixtape added, and only if they chose removal."""

from __future__ import annotations

import pytest
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage import catalog, imports, ledger, removals
from storage.enums import ImportStatus, PlaylistStatus
from storage.models import Import
from tests.storage.test_follows import GUILD, _entry, _tracks

MEMBER, CHANNEL, COPY = 300_000_000_000_000_001, 400_000_000_000_000_001, "c" * 22


def uri(letter: str) -> str:
    return "spotify:track:" + letter * 22


async def _new(s: AsyncSession, entry: int, *, update_of: bool, remove: bool = True) -> int:
    """An import of the entry into COPY (`update_of`: a follower's update, who chose
    removal unless `remove` is false), its songs resolved, nothing added yet."""
    row = await imports.create_import_with_ledger(
        s,
        guild_id=GUILD,
        discord_user_id=MEMBER,
        catalog_playlist_id=entry,
        channel_id=CHANNEL,
        follow=True,
        follow_update=update_of,
        follow_remove=update_of and remove,
    )
    await imports.set_target_playlist(s, row.id, COPY, None)
    await ledger.resolve_known_uris(s, row.id)
    return row.id


async def _imported(
    s: AsyncSession, entry: int, *, found_there: str = "", update_of: bool = False
) -> int:
    """An import of the entry into COPY whose every song landed (those in `found_there` were
    found already there, so they are the member's, not Mixtape's)."""
    import_id = await _new(s, entry, update_of=update_of)
    wanted = await ledger.target_sequence(s, import_id)
    theirs = {pos for pos, song, _ in wanted if song[-1] in found_there}
    await ledger.mark_items_added(s, import_id, theirs, already_present=True)
    await ledger.mark_items_added(s, import_id, {pos for pos, _, _ in wanted} - theirs)
    return import_id


async def _follower_update(s: AsyncSession, entry: int) -> int:
    """A follower's update (who chose removal), into COPY, before it adds anything."""
    return await _new(s, entry, update_of=True)


async def _shared(s: AsyncSession, letters: str) -> int:
    entry = await _entry(s)
    await catalog.replace_catalog_tracks(s, entry, _tracks(*letters))
    await catalog.mark_catalog_status(s, entry, PlaylistStatus.READY)
    return entry


async def _finish(s: AsyncSession, import_id: int) -> None:
    await imports.finish_import(s, import_id, ImportStatus.COMPLETED)


async def test_only_songs_that_left_and_are_wholly_mixtapes_are_planned(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions.begin() as s:
        entry = await _shared(s, "abcdf")
        first = await _imported(s, entry, found_there="c")
        await _finish(s, first)
        # The source loses b, c and f and gains e.
        await catalog.replace_catalog_tracks(s, entry, _tracks(*"ade"))
        update_id = await _follower_update(s, entry)
        # The copy: a, b twice (the member added a second by hand), c (theirs all along),
        # d, f, and x (their own song).
        held = {uri("a"): 1, uri("b"): 2, uri("c"): 1, uri("d"): 1, uri("f"): 1, uri("x"): 1}
        plan = await removals.plan_removals(s, update_id, held)
        assert plan == {uri("f"): 1}
        # Planned once: a retried settle keeps the first plan.
        assert await removals.plan_removals(s, update_id, held) == plan
        assert await removals.pending_removals(s, update_id) == [uri("f")]
        await removals.mark_removed(s, update_id, [uri("f")])
        assert await removals.pending_removals(s, update_id) == []
        assert await removals.removed_count(s, update_id) == 1
        await _finish(s, update_id)

        # f comes back to the source and Mixtape adds it again; when it leaves again, the
        # copy's one f is Mixtape's (added twice, removed once).
        await catalog.replace_catalog_tracks(s, entry, _tracks(*"adef"))
        again = await _imported(s, entry, found_there="ade", update_of=True)
        await _finish(s, again)
        await catalog.replace_catalog_tracks(s, entry, _tracks(*"ade"))
        last = await _follower_update(s, entry)
        assert await removals.plan_removals(s, last, {uri("f"): 1}) == {uri("f"): 1}


async def test_nothing_is_planned_for_a_member_who_did_not_choose_removal(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions.begin() as s:
        entry = await _shared(s, "ab")
        first = await _imported(s, entry)
        await _finish(s, first)
        await catalog.replace_catalog_tracks(s, entry, _tracks("a"))
        keeper = await _new(s, entry, update_of=True, remove=False)
        assert await removals.plan_removals(s, keeper, {uri("a"): 1, uri("b"): 1}) == {}
        # The member's own first import is no follower's update either.
        assert await removals.plan_removals(s, first, {uri("b"): 1}) == {}


async def test_removal_without_following_is_refused_by_the_schema(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions.begin() as s:
        entry = await _shared(s, "a")
        first = await _imported(s, entry)
    with pytest.raises(IntegrityError):
        async with sessions.begin() as s:
            await s.execute(
                update(Import).where(Import.id == first).values(follow=False, follow_remove=True)
            )
