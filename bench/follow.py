"""Following (issue 15): the scheduled check of unchanged sources, and a change's followers.

Set up through the real paths: each source is shared as `/share` does (the entry claimed,
its progress message posted, `share-playlist` dispatched and read from the fake), and each
follower imports the entry with `follow` as `/import` does (ledger first, then the run).
Nothing the follow feature derives (snapshot ids, `checked_at`) is written by the bench.
The seeding runs with the fake's rolling limit off, as the other scenarios' seeding does.

Measured, on the real engine and worker: one run of the scheduled task `catalog-follow`,
triggered by name as its cron would (the set-up's guilds excepted, every other guild's
following is paused first, as a manager's `/following pause` does, so only the scenario's
entries are checked), and

- **unchanged**: the calls and the time until every entry's `checked_at` moved;
- **changed**: the source gained songs; the calls and the time until every follower's
  update import is COMPLETED, and each copy read from the fake against the source.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from bench.designs import MixtapeDesign
from bench.scenarios import WRITE_ROUTES, MemorySampler, Outcome, Scenario
from bench.world import NAMESPACES, Member, World, hatchet_in
from bot.dispatch import WorkflowDispatcher
from devtools.stack import log
from storage import catalog, follows, imports
from storage.enums import ImportStatus, PlaylistStatus
from storage.models import CatalogPlaylist, Import
from storage.types import utcnow
from workflows.contracts import ImportInput, ShareInput
from workflows.follow import CATALOG_FOLLOW

#: songs in the changed scenario's source before its change
CHANGED_SONGS_BEFORE = 100
PAGE = 50  # the share's page size (Spotify's maximum for playlist items)
CHECK = "GET /v1/playlists/{id}"
WITHIN = 600.0


class FollowBench:
    """The follow scenarios, on Mixtape's worker and namespace."""

    def __init__(self, world: World, design: MixtapeDesign) -> None:
        self.world, self.design = world, design
        hatchet = hatchet_in(NAMESPACES["mixtape"])
        self.dispatcher = WorkflowDispatcher(hatchet)
        self.follow = hatchet.stubs.task(name=CATALOG_FOLLOW)
        self._seed = 9_000

    def _songs(self, count: int) -> list[Any]:
        self._seed += 1
        return self.world.spotify.generate_tracks(count, seed=self._seed)

    # ------------------------------------------------------------------ set-up

    async def share(self, guild_id: int, sharer: Member, playlist_id: str, name: str) -> int:
        """What `/share` does once it has checked the member may read the playlist."""
        w = self.world
        async with w.sessions.begin() as s:
            entry_id = await catalog.claim_share(
                s,
                guild_id=guild_id,
                owner_discord_user_id=sharer.discord_id,
                provider_playlist_id=playlist_id,
                url=f"https://open.spotify.com/playlist/{playlist_id}",
                name=name,
                stale_before=utcnow() - timedelta(hours=1),
                max_entries=10_000,
            )
        # a channel of its own: the set-up's messages leave no backlog of rate-limited
        # edits in one channel for the measured run (the fake keeps Discord's 5 per 5 s)
        channel = w.discord.add_channel(guild_id=guild_id, name=f"share-{sharer.spotify_id}")
        message_id = await asyncio.to_thread(w.post_message, f"Sharing {name}…", channel)
        async with w.sessions.begin() as s:
            await catalog.set_share_message(s, entry_id, channel, message_id)
        await self.dispatcher.share_playlist(
            ShareInput(
                catalog_playlist_id=entry_id,
                sharer_discord_user_id=sharer.discord_id,
                channel_id=channel,
                message_id=message_id,
            ),
            guild_id=guild_id,
            user_id=sharer.discord_id,
        )
        return entry_id

    async def shared(self, guild_id: int, sharers: list[Member], songs: list[Any]) -> list[int]:
        """Each sharer's playlist of `songs` in the fake, shared into `guild_id`, read."""
        entries = []
        for n, sharer in enumerate(sharers):
            name = f"Weekly {n + 1}"
            source = self.world.spotify.add_playlist(sharer.spotify_id, name, songs)
            entries.append(await self.share(guild_id, sharer, source.id, name))
        await self._until_entries(entries, lambda e: e.status is PlaylistStatus.READY, "shares")
        return entries

    async def follow_import(self, guild_id: int, member: Member, entry_id: int) -> int:
        """What `/import playlist:<entry> follow:True` does: ledger, message, dispatch."""
        w = self.world
        channel = w.discord.add_channel(guild_id=guild_id, name=f"import-{member.spotify_id}")
        async with w.sessions.begin() as s:
            row = await imports.create_import_with_ledger(
                s,
                guild_id=guild_id,
                discord_user_id=member.discord_id,
                catalog_playlist_id=entry_id,
                channel_id=channel,
                follow=True,
            )
        message_id = await asyncio.to_thread(w.post_message, "Importing…", channel)
        async with w.sessions.begin() as s:
            await imports.set_message_id(s, row.id, message_id)
        await self.dispatcher.import_playlist(
            ImportInput(import_id=row.id, discord_user_id=member.discord_id), guild_id=guild_id
        )
        return row.id

    async def _until_entries(self, ids: list[int], done: Any, what: str) -> list[float]:
        """Poll the entries until `done` holds for each; when it first did (monotonic)."""
        at: dict[int, float] = {}
        deadline = time.monotonic() + WITHIN
        while len(at) < len(ids):
            async with self.world.sessions.begin() as s:
                rows = (
                    await s.scalars(select(CatalogPlaylist).where(CatalogPlaylist.id.in_(ids)))
                ).all()
                now = time.monotonic()
                for row in rows:
                    if row.id not in at and done(row):
                        at[row.id] = now
                    if row.status is PlaylistStatus.FAILED:
                        raise RuntimeError(f"entry {row.id} failed: {row.error}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what}: {len(at)} of {len(ids)} after {WITHIN:.0f}s")
            await asyncio.sleep(0.1)
        return sorted(at.values())

    async def _until_imports(self, ids: list[int], what: str) -> dict[int, tuple[float, Import]]:
        """Poll the imports until each is final; when each was seen final, and its row."""
        seen: dict[int, tuple[float, Import]] = {}
        deadline = time.monotonic() + WITHIN
        while len(seen) < len(ids):
            async with self.world.sessions.begin() as s:
                rows = (await s.scalars(select(Import).where(Import.id.in_(ids)))).all()
            now = time.monotonic()
            for row in rows:
                if row.id not in seen and row.status.is_terminal:
                    seen[row.id] = (now, row)
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what}: {len(seen)} of {len(ids)} after {WITHIN:.0f}s")
            await asyncio.sleep(0.1)
        return seen

    async def only_checking(self, guild_id: int) -> None:
        """Following paused in every other guild holding entries (a manager's
        `/following pause`), so the scheduled run checks only this scenario's entries."""
        async with self.world.sessions.begin() as s:
            guilds = (await s.scalars(select(CatalogPlaylist.guild_id).distinct())).all()
            for other in guilds:
                if other != guild_id:
                    await follows.pause_guild(s, other, paused_by=1)

    async def room(self, units: int) -> float:
        """Wait until the engine's app-wide Spotify bucket holds twice `units` (or its
        refill is due): the set-up drew from it, other workers on the engine draw from it
        too (the key is the tenant's, not the namespace's), and a step it refuses waits for
        the next refill, up to a minute. Seconds waited."""
        started = time.monotonic()
        while time.monotonic() - started < 90:
            bucket = await self.world.app_bucket()
            if bucket is None or bucket[0] >= 2 * units or bucket[1] >= 60:
                break
            await asyncio.sleep(0.5)
        return time.monotonic() - started

    # ------------------------------------------------------------------ scenarios

    async def run(self, scenario: Scenario, label: str) -> Outcome:
        w = self.world
        w.spotify.set_rate_limit(None)  # the seeding is not measured
        guild_id = random.randrange(10**17, 10**18)
        if scenario.follow == "unchanged":
            setup = await self._setup_unchanged(scenario, guild_id, label)
        else:
            setup = await self._setup_changed(scenario, guild_id, label)
        await self.only_checking(guild_id)
        waited = await self.room(setup["units"])
        if waited > 1:
            log(f"  waited {waited:.0f}s for the engine's Spotify bucket to hold the run")
        w.limits_on()  # a fresh rolling window for the measured run, as for every scenario
        since, t0 = datetime.now(UTC), time.monotonic()
        async with MemorySampler(self.design) as memory:
            # watched from before the trigger, so nothing finishes unseen
            unchanged = scenario.follow == "unchanged"
            measure = self._measure_unchanged if unchanged else self._measure_changed
            watching = asyncio.create_task(measure(setup, t0))
            try:
                out = await self.follow.aio_run()
            except BaseException:
                watching.cancel()
                raise
            checks = int(dict(out)["checks"])
            measured = await watching
        wall = max(measured["finished"])
        users = setup["users"]
        calls = [c for c in w.spotify.calls if c.user_id in users and c.at >= t0]
        by_route = Counter(c.route for c in calls)
        inside = [
            c
            for c in w.spotify.calls_inside_retry_after_windows(per="app")
            if c.user_id in users and c.at >= t0
        ]
        runs, attempts = await w.task_runs("mixtape", since)
        errors = list(measured["errors"])
        if checks != setup["entries"]:
            errors.insert(0, f"the schedule started {checks} checks for {setup['entries']}")
        return Outcome(
            design="mixtape",
            scenario=scenario.name,
            tracks=scenario.tracks,
            members=scenario.members,
            wall_s=round(wall, 2),
            calls_by_route=dict(by_route),
            total_calls=len(calls),
            write_calls=sum(by_route[r] for r in WRITE_ROUTES),
            calls_in_retry_after=len(inside),
            duplicates=measured["duplicates"],
            missing=measured["missing"],
            in_order=measured["in_order"],
            task_runs=runs,
            task_attempts=attempts,
            peak_worker_mib=round(memory.peak_kib / 1024, 1),
            error="; ".join(errors) or None,
            timeline=[(round(c.at - t0, 3), c.route, c.status) for c in calls],
            rate_limited=sum(1 for c in calls if c.fault == "rate_limit"),
            finished=[round(t, 2) for t in measured["finished"]],
            floor_s=round(setup["floor_calls"] * w.config.latency, 3),
            extra_playlists=sum(
                max(0, len(w.spotify.playlists_of(u)) - 1) for u in setup.get("followers", ())
            ),
            follow=scenario.follow,
            floor_calls=setup["floor_calls"],
        )

    async def _setup_unchanged(self, scenario: Scenario, guild_id: int, label: str) -> Any:
        """`members` sharers, each sharing one playlist of `tracks` songs."""
        sharers = [await self.world.member(f"{label}sh") for _ in range(scenario.members)]
        entries = await self.shared(guild_id, sharers, self._songs(scenario.tracks))
        async with self.world.sessions.begin() as s:
            rows = (
                await s.scalars(select(CatalogPlaylist).where(CatalogPlaylist.id.in_(entries)))
            ).all()
            before = {r.id: (r.checked_at, r.changed_at, r.snapshot_id) for r in rows}
        return {
            "entries": len(entries),
            "ids": entries,
            "before": before,
            "users": {m.spotify_id for m in sharers},
            "floor_calls": len(entries),  # one snapshot read each
            "units": len(entries),
        }

    async def _measure_unchanged(self, setup: Any, t0: float) -> Any:
        before = setup["before"]
        done = await self._until_entries(
            setup["ids"], lambda e: e.checked_at != before[e.id][0], "checks"
        )
        errors = []
        async with self.world.sessions.begin() as s:
            rows = (
                await s.scalars(select(CatalogPlaylist).where(CatalogPlaylist.id.in_(setup["ids"])))
            ).all()
            started = await s.scalar(
                select(Import.id).where(Import.catalog_playlist_id.in_(setup["ids"])).limit(1)
            )
        moved = [r.id for r in rows if (r.changed_at, r.snapshot_id) != before[r.id][1:]]
        if moved:
            errors.append(f"{len(moved)} unchanged entries were re-read")
        if started is not None:
            errors.append("an unchanged entry started an import")
        return {
            "finished": [t - t0 for t in done],
            "errors": errors,
            "duplicates": 0,
            "missing": 0,
            "in_order": True,
        }

    async def _setup_changed(self, scenario: Scenario, guild_id: int, label: str) -> Any:
        """One sharer's playlist of CHANGED_SONGS_BEFORE songs, shared; `members` followers
        import it with follow; then the source gains `tracks` songs at its end."""
        w = self.world
        sharer = await w.member(f"{label}sh")
        songs = self._songs(CHANGED_SONGS_BEFORE + scenario.tracks)
        before, added = songs[:CHANGED_SONGS_BEFORE], songs[CHANGED_SONGS_BEFORE:]
        [entry] = await self.shared(guild_id, [sharer], before)
        followers = [await w.member(f"{label}fo") for _ in range(scenario.members)]
        first = [await self.follow_import(guild_id, m, entry) for m in followers]
        done = await self._until_imports(first, "followers' first imports")
        failed = [row for _, row in done.values() if row.status is not ImportStatus.COMPLETED]
        if failed:
            raise RuntimeError(f"a follower's first import failed: {failed[0].error}")
        async with w.sessions.begin() as s:
            row = await s.get(CatalogPlaylist, entry)
            assert row is not None
            source_id = row.provider_playlist_id
        w.spotify.insert_entries(
            source_id, w.spotify.resolve_uris([t.uri for t in added], sharer.spotify_id), None
        )
        total = CHANGED_SONGS_BEFORE + scenario.tracks
        pages = math.ceil(total / PAGE)
        return {
            "entries": 1,
            "entry": entry,
            "source": source_id,
            "first": {m.discord_id: i for m, i in zip(followers, first, strict=True)},
            "targets": {row.id: row.target_playlist_id for _, row in done.values()},
            "users": {sharer.spotify_id, *(m.spotify_id for m in followers)},
            "followers": [m.spotify_id for m in followers],
            # the check, the re-read (its metadata, then its pages), one add per follower
            # per 100 new songs
            "floor_calls": 1 + 1 + pages + scenario.members * math.ceil(scenario.tracks / 100),
            # rate-limit units: the check and the re-read, then per follower at most a
            # prepare (2), the target's tail (2) and an add with its re-check (3)
            "units": 2 + pages + 8 * scenario.members,
        }

    async def _measure_changed(self, setup: Any, t0: float) -> Any:
        w = self.world
        first: dict[int, int] = setup["first"]
        deadline = time.monotonic() + WITHIN
        updates: dict[int, int] = {}
        while len(updates) < len(first):  # the fan-out's imports, one per follower
            async with w.sessions.begin() as s:
                rows = (
                    await s.scalars(
                        select(Import).where(
                            Import.catalog_playlist_id == setup["entry"],
                            Import.follow_update.is_(True),
                        )
                    )
                ).all()
            updates = {r.discord_user_id: r.id for r in rows}
            if time.monotonic() > deadline:
                raise TimeoutError(f"follower updates: {len(updates)} of {len(first)} started")
            await asyncio.sleep(0.1)
        done = await self._until_imports(list(updates.values()), "follower updates")
        errors = [
            f"update {row.id}: {row.status.value} {row.error}"
            for _, row in done.values()
            if row.status is not ImportStatus.COMPLETED
        ]
        source = w.spotify.playlist_uris(setup["source"])
        duplicates = missing = 0
        in_order = True
        for member, update_id in updates.items():
            row = done[update_id][1]
            if row.target_playlist_id != setup["targets"][first[member]]:
                errors.append(f"update {row.id} went to another playlist")
            got = w.spotify.playlist_uris(row.target_playlist_id or "")
            duplicates += len(got) - len(set(got))
            missing += sum((Counter(source) - Counter(got)).values())
            in_order = in_order and got == source
        return {
            "finished": sorted(t - t0 for t, _ in done.values()),
            "errors": errors,
            "duplicates": duplicates,
            "missing": missing,
            "in_order": in_order,
        }
