"""`import-playlist`: copy a catalog playlist into the member's Spotify account, durably.

A durable parent orchestrates child tasks; every child is idempotent and commits the ledger
(`import_items`) before it returns, so a replay after a crash changes nothing twice:

1. prepare: find-or-create the target playlist (found by a marker in its description, so a
   crash between "create" and "record" never leaves two) and resolve the URIs the catalog
   or the match cache already knows;
2. resolve: one child per track still without a URI (ISRC, careful search);
3. reconcile: read the target and mark what is already there, counted per song (a song the
   source holds n times and the target k times is added n - k times, never less than
   none), so re-imports add nothing and a copy the member edited never grows beyond the
   source;
4. add: batches of up to 100, appended in order after the target's length as last read;
   a batch retried after an ambiguous failure first reads what follows that length to
   see whether it landed.

A target the member deleted (on Spotify: unfollowed, so no longer in their library) is
noticed when a run prepares: its tracks stop counting and a new target gets them all.

429s come back to the parent as results; it waits out Retry-After with a durable sleep
(no slot held, survives a crash), pausing the import visibly when the wait is long.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import logging
import re
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from hatchet_sdk import (
    ConcurrencyExpression,
    ConcurrencyLimitStrategy,
    Context,
    DurableContext,
    Hatchet,
    NonRetryableException,
)
from hatchet_sdk.runnables.workflow import BaseWorkflow, Standalone
from pydantic import BaseModel
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from mixtape.settings import Settings
from music.errors import AuthExpired, Permanent, RateLimited
from music.matching import best_match, match_key
from music.models import Track, parse_track
from music.spotify import add_items, remove_items
from spotify_access.calls import NotLinked, NotRegistered, call_as_member
from storage import accounts, catalog, imports, ledger, matches, removals
from storage.enums import ImportStatus, ItemState
from storage.models import CatalogTrack, Import, ImportItem, TrackMatch
from voice import import_progress
from workflows.child_errors import ChildResult, run_paced
from workflows.contracts import IMPORT_PLAYLIST, ImportInput, ImportOutput, Snowflake
from workflows.fairness import per_guild
from workflows.lifespan import WorkerDeps, deps
from workflows.notice import in_background, post_notice, send_dm
from workflows.progress import ChannelProgress
from workflows.rate_limits import spotify_step
from workflows.watchdog import build_watchdog

log = logging.getLogger(__name__)

BATCH_SIZE = 100  # the API's maximum per add
PAGE_SIZE = 50  # the API's maximum per read
PLAYLIST_LIMIT = 10_000
RESOLVE_FAN_OUT = 8  # resolve children in flight per import (a new one as each ends)
RESOLVE_PER_CHILD = 5  # songs one resolve child searches concurrently
READ_PAGES = 5  # pages of the target one read child takes (each paced as one call)
ADD_BATCHES = 20  # batches of 100 one add child appends (each paced as one call)
REMOVE_PER_CALL = 100  # URIs one removal call takes (Spotify's maximum)
MARKER_PREFIX = "mixtape-import"
#: How long a notice waits for the progress state it speaks of to be shown first.
_NOTICE_WAIT_SECONDS = 60.0
#: A pause at least this long pings the import's owner (once per run).
LONG_PAUSE_SECONDS = 600.0
LOST_TARGET_NOTE = (
    "The playlist this import wrote into was deleted on Spotify, so it goes "
    "into a new one; every track is added there."
)

Out = TypeVar("Out", bound="StepResult")


class StepInput(BaseModel):
    import_id: int
    discord_user_id: Snowflake
    #: The fairness key (`workflows.fairness`); 0 in steps queued before it existed.
    guild_id: Snowflake = 0


class StepResult(ChildResult):
    """Every child's answer: a 429's wait, or a stop because the import was cancelled."""

    cancelled: bool = False
    superseded: bool = False


class PrepareOutput(StepResult):
    target_playlist_id: str = ""
    target_url: str | None = None
    to_resolve: list[int] = []
    with_isrc: list[int] = []  # of `to_resolve`: searched by ISRC first (up to two calls)
    #: The recorded target was deleted by the member: this run writes into a new one.
    lost_target: bool = False
    #: The member has more playlists than one page: the scan goes on from here, one paced
    #: page per child (`marked_*`: a marked playlist seen so far).
    scan_from: int | None = None
    marked_id: str | None = None
    marked_url: str | None = None
    #: This step created the target and recorded it empty, and nothing was left to search:
    #: the ledger is settled against it already, so no reconcile read is needed.
    settled: bool = False
    #: This step created the target (recorded as empty); songs still to search come first.
    created: bool = False
    #: With `settled`: the tracks left to add (what the first add child is charged for).
    to_add: int | None = None


class FindInput(StepInput):
    """The scan of the member's playlists for the target goes on from `offset`."""

    offset: int
    marked_id: str | None = None
    marked_url: str | None = None
    #: No song is left to search: a target this step creates is settled at once.
    settle_new: bool = False


class ResolveInput(StepInput):
    positions: list[int]
    #: The Spotify calls these searches may make (the rate-limit units they are charged).
    calls: int = 1


class AddInput(StepInput):
    target_playlist_id: str
    recheck: bool = False
    #: Batches of 100 one add child appends in a row (fewer children, same ledger rules).
    batches: int = 1


class AddOutput(StepResult):
    added: int = 0
    failed: int = 0
    done: bool = False


class ReadInput(AddInput):
    """Read `pages` pages of the target from `offset` (one rate-limit unit per page)."""

    offset: int
    pages: int = 1


class ReadOutput(StepResult):
    """What a read saw: how often each song is there, how many entries, the length."""

    held: dict[str, int] = {}
    read: int = 0
    total: int = 0


class SettleInput(AddInput):
    held: dict[str, int]
    total: int


class SettleOutput(StepResult):
    #: The tracks left to add once the ledger is settled; None in answers from before it
    #: was reported (the add children are then charged their most).
    to_add: int | None = None


class ReconcileOutput(ReadOutput, SettleOutput):
    #: The target is longer than one page: the rest is read from here, paced page by page.
    more_from: int | None = None


#: Both the marker written today, `[mixtape-import:G:E]`, and the unbracketed one written
#: before: the numbers are read whole, so entry 1 never matches entry 10's marker.
_MARKER = re.compile(rf"{MARKER_PREFIX}:(\d+):(\d+)(?!\d)")


def marker(guild_id: int, catalog_playlist_id: int) -> str:
    """What the target's description carries: one target per member, server and playlist."""
    return f"[{MARKER_PREFIX}:{guild_id}:{catalog_playlist_id}]"


def parse_markers(description: str) -> set[tuple[int, int]]:
    """The (guild, entry) pairs a playlist description is marked with."""
    return {(int(g), int(e)) for g, e in _MARKER.findall(description)}


class ImportStopped(Exception):
    """The import cannot go on; the message is for the member."""


async def _spotify(d: WorkerDeps, user_id: int, op: Any, *, write: bool = False) -> Any:
    """One call as the importing member; grant problems stop the import with a clear reason."""
    try:
        return await call_as_member(d.sessions, d.cipher, d.spotify, user_id, op, write=write)
    except NotLinked as exc:
        raise NonRetryableException("You unlinked Spotify; run /link, then /retry.") from exc
    except NotRegistered as exc:
        raise NonRetryableException(
            "This Spotify app is in development mode and your account is not on its "
            "allow-list; ask the server's operator to add it."
        ) from exc
    except AuthExpired as exc:
        raise NonRetryableException("Your Spotify link expired; run /link, then /retry.") from exc


def _recheck(payload: BaseModel) -> BaseModel:
    """A try after a 429: an add first re-checks what landed (the 429 may have answered
    the re-check after an add whose fate is unknown)."""
    if isinstance(payload, AddInput):
        return payload.model_copy(update={"recheck": True})
    return payload


def require_owner(row_user_id: int, run_user_id: int, import_id: int) -> None:
    """A run acts only as the member who owns the import: a run naming another member (a
    forged or mixed-up input) is refused before any Spotify call, and changes nothing."""
    if row_user_id != run_user_id:
        log.error(
            "import %s belongs to member %s; refusing a run acting as %s",
            import_id,
            row_user_id,
            run_user_id,
        )
        raise NonRetryableException(
            f"import {import_id} does not belong to the member this run acts as"
        )


async def _stop_reason(d: WorkerDeps, input: StepInput, ctx: Context) -> StepResult | None:
    """Why this step must not run, checked at every step's start: the import was cancelled
    (or finished), or the watchdog handed it to a newer run than this step's parent.
    A run acting as someone other than the import's member is refused outright."""
    async with d.sessions.begin() as s:
        row = await imports.get_import(s, input.import_id)
    return _stop_for(row, input, ctx)


def _stop_for(row: Import | None, input: StepInput, ctx: Context) -> StepResult | None:
    """`_stop_reason` for an import row the caller read."""
    if row is not None:
        require_owner(row.discord_user_id, input.discord_user_id, input.import_id)
    if row is None or row.status.is_terminal:
        return StepResult(cancelled=True)
    parent = ctx.parent_workflow_run_id
    if parent and row.workflow_run_id and parent != row.workflow_run_id:
        return StepResult(superseded=True)
    return None


async def _read_all_items(
    d: WorkerDeps, user_id: int, playlist_id: str, start: int = 0, stop: int | None = None
) -> tuple[list[str], int]:
    """URIs of the target's entries from `start` (to `stop`), and its total length."""
    uris: list[str] = []
    offset, total = start, None
    while total is None or offset < (total if stop is None else min(total, stop)):
        page = await _spotify(
            d,
            user_id,
            lambda sp, o=offset: sp.playlist_items(
                playlist_id,
                limit=PAGE_SIZE,
                offset=o,
                fields="total,items(item(uri),track(uri))",
            ),
        )
        total = int(page.get("total") or 0)
        entries = page.get("items") or []
        uris.extend(str((e.get("item") or e.get("track") or {}).get("uri") or "") for e in entries)
        if not entries:
            break
        offset += len(entries)
    return uris, int(total or 0)


def build_import(hatchet: Hatchet, settings: Settings) -> list[BaseWorkflow[Any]]:
    """Declare `import-playlist` and its child tasks.

    Every Spotify call is paced: each step is charged the calls it may make to the app-wide
    and the member's rate limit, and a step never pages through a whole playlist. A long
    target or a member with many playlists is read one paced child at a time.
    """
    member = "discord_user_id"
    fair = per_guild(settings)  # searches: guilds take turns, one cannot take every slot
    # Find-or-create of a target is serialised per member: a cancelled run's prepare still
    # in flight and a new run's cannot both create a playlist.
    one_per_member = ConcurrencyExpression(
        expression="string(input.discord_user_id)",
        max_runs=1,
        limit_strategy=ConcurrencyLimitStrategy.GROUP_ROUND_ROBIN,
    )

    @hatchet.task(
        name="import-prepare",
        input_validator=StepInput,
        concurrency=one_per_member,
        **spotify_step(settings, member_field=member, units=2, calls=2),
    )
    async def prepare(input: StepInput, ctx: Context) -> PrepareOutput:
        """The ledger's own work, then the first page of the target search (one list call,
        and one create if that page settles it)."""
        d = deps(ctx)
        if stop := await _stop_reason(d, input, ctx):
            return PrepareOutput(**stop.model_dump())
        async with d.sessions.begin() as s:
            row = await imports.get_import(s, input.import_id)
            if row is None or row.status.is_terminal:
                return PrepareOutput(cancelled=True)
            await imports.start_import(s, input.import_id)
            await ledger.resolve_known_uris(s, input.import_id)
            pending = await ledger.pending_items(s, input.import_id)
            for item in pending:
                if item.track is None:
                    await ledger.mark_item_skipped(
                        s, input.import_id, item.position, "removed from the catalog"
                    )
            to_resolve, with_isrc = await _resolve_from_cache(
                s, input.import_id, [i for i in pending if i.track is not None]
            )
        out = await _find_or_create_target(
            d, FindInput(**input.model_dump(), offset=0, settle_new=not to_resolve)
        )
        return out.model_copy(update={"to_resolve": to_resolve, "with_isrc": with_isrc})

    @hatchet.task(
        name="import-find-target",
        input_validator=FindInput,
        concurrency=one_per_member,
        **spotify_step(settings, member_field=member, units=2, calls=2),
    )
    async def find_target(input: FindInput, ctx: Context) -> PrepareOutput:
        """One more page of the member's playlists (they have more than one page)."""
        d = deps(ctx)
        if stop := await _stop_reason(d, input, ctx):
            return PrepareOutput(**stop.model_dump())
        return await _find_or_create_target(d, input)

    @hatchet.task(
        name="import-resolve-track",
        concurrency=fair,
        input_validator=ResolveInput,
        **spotify_step(
            settings, member_field=member, units="input.calls", calls=2 * RESOLVE_PER_CHILD
        ),
    )
    async def resolve(input: ResolveInput, ctx: Context) -> StepResult:
        """Search a few songs at once (two calls each at most: ISRC, then artist and title);
        each result is committed on its own, so a retry searches only what is left."""
        d = deps(ctx)
        async with d.sessions.begin() as s:  # the stop check, the songs, the cache: one read
            if stop := _stop_for(await imports.get_import(s, input.import_id), input, ctx):
                return stop
            items = await ledger.list_items(
                s, input.import_id, states=[ItemState.PENDING], positions=input.positions
            )
            keys = {i.position: _cache_key(_wanted(i.track)) for i in items if i.track}
            cached = await matches.get_matches(s, keys.values())
        results = await asyncio.gather(
            *(
                _resolve_one(d, input, i, keys[i.position], cached.get(keys[i.position]))
                for i in items
                if i.position in keys
            )
        )
        waits = [r for r in results if r is not None]
        return max(waits, key=lambda r: r.retry_after or 0.0) if waits else StepResult()

    @hatchet.task(
        name="import-reconcile",
        input_validator=AddInput,
        **spotify_step(settings, member_field=member),
    )
    async def reconcile(input: AddInput, ctx: Context) -> ReconcileOutput:
        """Read the target's first page; settle the ledger if that is all of it."""
        d = deps(ctx)
        if stop := await _stop_reason(d, input, ctx):
            return ReconcileOutput(**stop.model_dump())
        read = await _read_target(d, input, offset=0, pages=1)
        if read.retry_after is not None:
            return ReconcileOutput(**read.model_dump())
        if read.total <= read.read:
            to_add = await _settle(d, input.import_id, read.held, read.total)
            return ReconcileOutput(**read.model_dump(), to_add=to_add)
        return ReconcileOutput(**read.model_dump(), more_from=read.read)

    @hatchet.task(
        name="import-read-target",
        input_validator=ReadInput,
        **spotify_step(settings, member_field=member, units="input.pages", calls=READ_PAGES),
    )
    async def read_target(input: ReadInput, ctx: Context) -> ReadOutput:
        """`pages` more pages of a long target, each paced as one call."""
        d = deps(ctx)
        if stop := await _stop_reason(d, input, ctx):
            return ReadOutput(**stop.model_dump())
        return await _read_target(d, input, offset=input.offset, pages=input.pages)

    @hatchet.task(
        name="import-settle",
        input_validator=SettleInput,
        execution_timeout=timedelta(seconds=60),
        retries=3,
    )
    async def settle(input: SettleInput, ctx: Context) -> SettleOutput:
        """Mark what a long target already holds (no Spotify call: the reads are done)."""
        d = deps(ctx)
        if stop := await _stop_reason(d, input, ctx):
            return SettleOutput(**stop.model_dump())
        return SettleOutput(to_add=await _settle(d, input.import_id, input.held, input.total))

    # Up to `batches` adds in a row, each committed to the ledger before the next; after an
    # unacknowledged add, a read of up to two pages first. Charged per call it may make:
    # `batches` follows the tracks left (`add_batches`), so a 100-track import pays 1.
    @hatchet.task(
        name="import-add-batch",
        input_validator=AddInput,
        **spotify_step(
            settings,
            member_field=member,
            units="int(input.batches) + (input.recheck ? 2 : 0)",
            calls=ADD_BATCHES + 2,
        ),
    )
    async def add_batch(input: AddInput, ctx: Context) -> AddOutput:
        d = deps(ctx)
        async with d.sessions.begin() as s:
            nxt = await _next_batch(s, input, ctx)
        added = 0
        for n in range(max(input.batches, 1)):
            if nxt.stop is not None:
                return AddOutput(**nxt.stop.model_dump(), added=added)
            if not nxt.items:
                return AddOutput(added=added, done=True)
            out, nxt = await _add_one_batch(
                d, input, ctx, nxt, recheck=n == 0 and (input.recheck or ctx.retry_count > 0)
            )
            added += out.added
            if out.retry_after is not None or not out.added:
                return out.model_copy(update={"added": added})
        done = nxt.stop is None and not nxt.items
        return AddOutput(added=added, done=done)

    @hatchet.task(
        name="import-prune",
        input_validator=AddInput,
        **spotify_step(settings, member_field=member),
    )
    async def prune(input: AddInput, ctx: Context) -> AddOutput:
        """One removal call: up to 100 of the songs planned to leave a follower's copy
        (planned when the copy was read: songs every occurrence of which Mixtape added)."""
        d = deps(ctx)
        if stop := await _stop_reason(d, input, ctx):
            return AddOutput(**stop.model_dump())
        async with d.sessions.begin() as s:
            pending = await removals.pending_removals(s, input.import_id)
        uris = pending[:REMOVE_PER_CALL]
        if not uris:
            return AddOutput(done=True)
        try:
            # Removing a URI the copy no longer holds changes nothing: a retry after an
            # unanswered call is safe.
            await _spotify(
                d,
                input.discord_user_id,
                lambda sp: remove_items(sp, input.target_playlist_id, uris),
                write=True,
            )
        except RateLimited as exc:
            return AddOutput(retry_after=exc.retry_after, reason=exc.reason)
        except Permanent as exc:
            raise NonRetryableException(_target_gone(exc)) from exc
        async with d.sessions.begin() as s:
            await removals.mark_removed(s, input.import_id, uris)
        return AddOutput(added=0, done=len(pending) <= REMOVE_PER_CALL)

    @hatchet.durable_task(
        name=IMPORT_PLAYLIST,
        input_validator=ImportInput,
        execution_timeout=timedelta(hours=24),
        retries=0,
        # One live run per import: a newer run (a /retry, or the watchdog replacing a stuck
        # one) cancels the older. Members share Spotify fairly through the per-member rate
        # limit; a per-member concurrency slot would let one stuck run block its owner.
        concurrency=ConcurrencyExpression(
            expression="string(input.import_id)",
            max_runs=1,
            limit_strategy=ConcurrencyLimitStrategy.CANCEL_IN_PROGRESS,
        ),
    )
    async def import_playlist(input: ImportInput, ctx: DurableContext) -> ImportOutput:
        d = deps(ctx)
        run = _Run(ctx, d, settings, input)
        await run.open()
        try:
            out = await _import(run, input)
        except BaseException:
            run.abandon_progress()  # cancelled or crashed: a newer run owns the message
            raise
        await run.close_progress()
        return out

    async def _import(run: _Run, input: ImportInput) -> ImportOutput:
        try:
            base = StepInput(
                import_id=input.import_id,
                discord_user_id=input.discord_user_id,
                guild_id=run.guild_id,
            )
            prep = await run.child(prepare, base, "prepare")
            found = prep
            while found.scan_from is not None:  # more playlists than one page
                found = await run.child(
                    find_target,
                    FindInput(
                        **base.model_dump(),
                        offset=found.scan_from,
                        marked_id=found.marked_id,
                        marked_url=found.marked_url,
                        settle_new=not prep.to_resolve,
                    ),
                    f"find-{found.scan_from}",
                )
            await run.report(final=True)  # before any add: e.g. tracks that won't play here
            # `batches` as every run has spawned its reads, settle and prune with: a replayed
            # spawn whose input changed would not match what the engine recorded.
            target = AddInput(
                **base.model_dump(),
                target_playlist_id=found.target_playlist_id,
                batches=ADD_BATCHES,
            )
            isrc = set(prep.with_isrc)
            todo = prep.to_resolve
            groups = [
                todo[i : i + RESOLVE_PER_CHILD] for i in range(0, len(todo), RESOLVE_PER_CHILD)
            ]

            async def search(group: list[int]) -> None:
                await run.child(
                    resolve,
                    ResolveInput(
                        **base.model_dump(),
                        positions=group,
                        calls=sum(2 if p in isrc else 1 for p in group),
                    ),
                    f"resolve-{group[0]}",
                )
                await run.report()

            # Up to RESOLVE_FAN_OUT children in flight, the next spawned as soon as one ends
            # (the engine still holds them to the rate limits and the guild's share).
            await _in_flight([functools.partial(search, g) for g in groups], RESOLVE_FAN_OUT)
            settled: SettleOutput
            if found.settled:  # a new, empty target: nothing in it to reconcile
                first = ReconcileOutput()
                settled = SettleOutput(to_add=found.to_add)
            elif found.created:  # new and empty, but songs were searched since: settle them
                settled = await run.child(
                    settle, SettleInput(**target.model_dump(), held={}, total=0), "settle-new"
                )
                first = ReconcileOutput()
            else:
                first = await run.child(reconcile, target, "reconcile")
                settled = first
            if first.more_from is not None:  # a long target: the rest, page by page
                held, offset, total = Counter(first.held), first.more_from, first.total
                while offset < total:
                    page = await run.child(
                        read_target,
                        ReadInput(**target.model_dump(), offset=offset, pages=READ_PAGES),
                        f"read-{offset}",
                    )
                    held.update(page.held)
                    total = page.total
                    if not page.read:
                        break
                    offset += page.read
                settled = await run.child(
                    settle,
                    SettleInput(**target.model_dump(), held=dict(held), total=total),
                    "settle",
                )
            # Each add child's input (so its charge) derives only from answers the engine
            # replays as they were: a replayed spawn with another input would not match.
            batch, done = 0, 0
            while True:
                left = None if settled.to_add is None else settled.to_add - done
                out = await run.child(
                    add_batch,
                    target.model_copy(update={"batches": add_batches(left)}),
                    f"batch-{batch}",
                )
                await run.report()
                if out.done:
                    break
                batch, done = batch + 1, done + out.added + out.failed
            if run.follow_remove:  # after the adds: they land after the length as read
                removal = 0
                while not (await run.child(prune, target, f"prune-{removal}")).done:
                    removal += 1
            return await run.finish(run.target_url)
        except _Superseded:
            log.warning("import %s: run superseded by a newer one; stopping", input.import_id)
            return ImportOutput(
                import_id=input.import_id,
                status="superseded",
                added=0,
                already_present=0,
                not_found=0,
                failed=0,
            )
        except _Cancelled:
            return await run.finish(run.target_url, cancelled=True)
        except ImportStopped as exc:
            return await run.finish(run.target_url, error=str(exc))

    watchdog = build_watchdog(hatchet, settings, import_playlist)
    workflows: list[BaseWorkflow[Any]] = [
        prepare,
        find_target,
        resolve,
        reconcile,
        read_target,
        settle,
        add_batch,
        prune,
        import_playlist,
        watchdog,
    ]
    return workflows


async def _in_flight(jobs: list[Callable[[], Coroutine[Any, Any, None]]], limit: int) -> None:
    """Run `jobs` in order, at most `limit` at once, the next as soon as one ends; the
    first failure cancels the others and propagates."""
    queued = iter(jobs)
    running: set[asyncio.Task[None]] = set()
    try:
        while True:
            for job in itertools.islice(queued, max(limit - len(running), 0)):
                running.add(asyncio.create_task(job()))
            if not running:
                return
            done, running = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()
    finally:
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)


class _Cancelled(Exception):
    """A child saw the import cancelled."""


class _Superseded(Exception):
    """The watchdog handed the import to a newer run: this one leaves everything to it."""


class _Run:
    """The parent's state for one invocation: progress message, waits, counts."""

    def __init__(
        self, ctx: DurableContext, d: WorkerDeps, settings: Settings, input: ImportInput
    ) -> None:
        self.ctx, self.d, self.settings, self.input = ctx, d, settings, input
        self.progress: ChannelProgress | None = None
        self.name = "playlist"
        self.target_url: str | None = None
        self.started = time.monotonic()
        self.settled_at_start = 0
        self.country: str | None = None
        self.unplayable: tuple[str, ...] = ()
        self.notes: tuple[str, ...] = ()
        self.guild_id = 0
        self.channel_id = 0
        self.follow_update = False
        self.follow_remove = False
        self.share_skips: dict[str, int] = {}
        self.pace: import_progress.Pace | None = None
        self.told_paused = False
        self.reported_at: float | None = None

    async def open(self) -> None:
        async with self.d.sessions.begin() as s:
            row = await imports.get_import(s, self.input.import_id)
            counts = await ledger.counts_by_state(s, self.input.import_id)
            account = await accounts.get_account(s, self.input.discord_user_id)
            self.country = account.country if account else None
            if self.country:
                self.unplayable = tuple(
                    await ledger.unplayable_titles(s, self.input.import_id, self.country)
                )
        if row is None:
            raise NonRetryableException(f"import {self.input.import_id} does not exist")
        require_owner(row.discord_user_id, self.input.discord_user_id, self.input.import_id)
        self.name = row.playlist_name or self.name
        if row.catalog_playlist_id is not None:
            async with self.d.sessions.begin() as s:
                entry = await catalog.get_catalog_playlist(s, row.catalog_playlist_id)
            self.share_skips = dict(entry.skipped or {}) if entry else {}
        self.guild_id = row.guild_id
        self.channel_id = row.channel_id
        self.target_url = row.target_playlist_url
        self.settled_at_start = counts.total - counts.outstanding
        self.follow_update = row.follow_update
        self.follow_remove = row.follow_update and row.follow_remove
        if row.follow_update:
            return  # a followed entry's change: its share message speaks for every copy
        self.progress = ChannelProgress(
            self.d.discord,
            row.channel_id,
            row.message_id,
            interval=self.settings.progress_interval_seconds,
            on_new_message=self._remember_message,
            keep=self.d.background,
        )

    async def close_progress(self) -> None:
        if self.progress is not None:
            await self.progress.close()

    def abandon_progress(self) -> None:
        if self.progress is not None:
            self.progress.abandon()

    async def _remember_message(self, message_id: int) -> None:
        """/imports links to the progress message: keep it pointing at the live one."""
        async with self.d.sessions.begin() as s:
            await imports.set_message_id(s, self.input.import_id, message_id)

    async def child(self, task: Standalone[Any, Out], payload: BaseModel, key: str) -> Out:
        """Run a child; wait out its 429s durably; stop on cancellation or a permanent error.

        A crash or an ambiguous failure inside the child is retried by Hatchet, and the
        retried child re-checks the target itself. An attempt after a 429 re-checks too:
        the 429 may have answered that re-check, after an add whose fate is unknown.
        """
        return await run_paced(
            self.ctx,
            task,
            payload,
            key,
            waits=self.settings.max_rate_limit_waits,
            wait=self._wait,
            failed=ImportStopped,
            gave_up="Spotify kept failing; use /retry to pick up where it stopped.",
            slowed="Spotify kept asking us to slow down; use /retry later.",
            again=_recheck,
            around=self._ticking,
            after=self._answered,
        )

    @contextlib.asynccontextmanager
    async def _ticking(self) -> AsyncIterator[None]:
        """Progress while a child runs (a big add child appends thousands of tracks)."""
        stop = asyncio.Event()
        ticker = asyncio.create_task(self._tick(stop))
        try:
            yield
        finally:
            # Told, not cancelled: a tick cancelled inside its database transaction can
            # leave SQLite's write lock with a connection nobody closes.
            stop.set()
            await ticker

    async def _answered(self, result: StepResult) -> None:
        """Every child's answer: a sign of life, what it learned, or a reason to stop."""
        await self._touch()  # the watchdog's sign of life
        if isinstance(result, PrepareOutput) and result.target_url:
            self.target_url = result.target_url
        if isinstance(result, PrepareOutput) and result.lost_target:
            self.notes = (LOST_TARGET_NOTE,)
        if result.superseded:
            raise _Superseded
        if result.cancelled:
            raise _Cancelled

    async def _wait(self, seconds: float, reason: str | None) -> None:
        long_wait = seconds >= self.settings.pause_after_retry_after_seconds
        if long_wait:
            resume_at = datetime.now(UTC) + timedelta(seconds=seconds)
            async with self.d.sessions.begin() as s:
                await imports.pause_import(s, self.input.import_id, resume_at)
            view = await self._view()
            await self._edit(import_progress.paused(view, resume_at, reason), final=True)
            if seconds >= LONG_PAUSE_SECONDS and not self.told_paused:
                self.told_paused = True
                await self._tell_owner(import_progress.paused_notice(view, resume_at, reason))
        else:
            await self._touch()  # a short wait is no stall
        log.info("import %s waits %.1fs for Spotify (%s)", self.input.import_id, seconds, reason)
        await self.ctx.aio_sleep_for(timedelta(seconds=seconds))
        if long_wait:
            async with self.d.sessions.begin() as s:
                await imports.start_import(s, self.input.import_id)

    async def _view(self, *, store: bool = True) -> import_progress.View:
        """The message's view as of now; `self.pace` is what this run settled, how fast.
        `store` also refreshes the import's cached counters (what /imports shows)."""
        async with self.d.sessions.begin() as s:
            count = ledger.counts_by_state if store else ledger.count_states
            c = await count(s, self.input.import_id)
        settled = c.total - c.outstanding
        self.pace = import_progress.Pace(
            settled=max(settled - self.settled_at_start, 0),
            seconds=time.monotonic() - self.started,
        )
        return import_progress.View(
            import_id=self.input.import_id,
            owner_id=self.input.discord_user_id,
            name=self.name,
            total=c.total - c.skipped,
            at=datetime.now(UTC),
            added=c.added,
            already_present=c.already_present,
            not_found=c.not_found,
            failed=c.failed,
            url=self.target_url,
            country=self.country,
            unplayable=self.unplayable,
            notes=self.notes,
            share_skips=self.share_skips,
        )

    async def report(self, *, final: bool = False, store: bool = True) -> None:
        """Show the ledger's state; a non-final report within the progress interval of the
        last one is skipped (the message could not show it sooner anyway)."""
        now = time.monotonic()
        interval = self.settings.progress_interval_seconds
        if not final and self.reported_at is not None and now - self.reported_at < interval:
            return
        self.reported_at = now
        try:
            view = await self._view(store=store)
        except OperationalError:  # progress never fails the import; the next report catches up
            log.warning("import %s: progress not read (database busy)", self.input.import_id)
            return
        await self._edit(import_progress.running(view, self.pace), final=final)

    async def _touch(self) -> None:
        """Tell the watchdog the run is alive. Best-effort: a busy database (SQLite's lock
        held past its timeout by a long transaction elsewhere) must not fail the import,
        and the next step's touch says the same."""
        try:
            async with self.d.sessions.begin() as s:
                await imports.touch_import(s, self.input.import_id)
        except OperationalError:
            log.warning("import %s: sign of life not recorded (busy)", self.input.import_id)

    async def _tick(self, stop: asyncio.Event) -> None:
        """While a child runs (until `stop`), report every progress interval (a big add
        child appends thousands of tracks; the member sees them land, not only at its end)."""
        if self.progress is None:
            return
        interval = max(self.settings.progress_interval_seconds, 0.5)
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(interval):
                    await stop.wait()
            if stop.is_set():
                return
            try:
                await self.report(store=False)  # reads only: a tick is no sign of life
            except Exception:  # progress never fails the import
                log.warning("progress of import %s failed", self.input.import_id, exc_info=True)

    async def _tell_owner(self, content: str, attachment: tuple[str, str] | None = None) -> None:
        """Ping the owner, and only them, in a reply under the progress message; in the
        background, like every progress message, so Discord never holds the import."""
        progress = self.progress
        if progress is None:
            return  # no message of its own (a followed entry's update): nothing to reply to

        async def tell() -> None:
            await progress.flush(_NOTICE_WAIT_SECONDS)  # the state it speaks of shows first
            await post_notice(
                self.d.discord,
                self.channel_id,
                content,
                mentions=import_progress.owner_mentions(self.input.discord_user_id),
                reply_to=progress.message_id,
                attachment=attachment,
            )

        in_background(self.d.background, tell())

    async def _edit(self, embed: Any, final: bool = False) -> None:
        if self.progress is not None:
            await self.progress.update(embed, final=final)

    async def finish(
        self, url: str | None, *, cancelled: bool = False, error: str | None = None
    ) -> ImportOutput:
        status = (
            ImportStatus.CANCELLED
            if cancelled
            else ImportStatus.FAILED
            if error
            else ImportStatus.COMPLETED
        )
        async with self.d.sessions.begin() as s:
            # The counters are final in the same transaction that makes the import
            # terminal: no reader ever sees a finished import with stale counts.
            await ledger.counts_by_state(s, self.input.import_id)
            await imports.finish_import(s, self.input.import_id, status, error=error)
            items, _ = await ledger.not_imported(s, self.input.import_id)
        not_imported = [import_progress.missing(item) for item in items]
        self.target_url = url or self.target_url
        p = await self._view()
        outcome = import_progress.outcome_of(status)
        summary = import_progress.finished(p, outcome, not_imported, error=error)
        await self._edit(summary.embed, final=True)
        if self.follow_update and status is ImportStatus.FAILED:
            # No message of its own to reply under: the follower is told privately.
            in_background(
                self.d.background,
                send_dm(
                    self.d.discord,
                    self.input.discord_user_id,
                    import_progress.follow_update_failed(self.name, self.input.import_id, error),
                ),
            )
        if outcome is not import_progress.Outcome.CANCELLED:
            await self._tell_owner(
                import_progress.finished_notice(p, outcome, len(not_imported)),
                (summary.filename, summary.full_list) if summary.full_list else None,
            )
        return ImportOutput(
            import_id=self.input.import_id,
            status=status.value,
            added=p.added,
            already_present=p.already_present,
            not_found=p.not_found,
            failed=p.failed,
        )


def _wanted(track: CatalogTrack) -> Track:
    """The catalog track as the matcher sees it."""
    return Track(
        track.title,
        tuple(track.artists),
        track.album or "",
        track.duration_ms,
        track.isrc,
        track.provider_track_id or "",
        track.provider_uri or "",
    )


def _cache_key(track: Track) -> str:
    return match_key(track.title, track.artists, track.duration_ms, track.isrc)


async def _resolve_from_cache(
    s: AsyncSession, import_id: int, pending: list[ImportItem]
) -> tuple[list[int], list[int]]:
    """Settle what the match cache already knows in one pass (a second import of the same
    songs searches nothing and runs no resolve child); the positions left to search, and
    those of them with an ISRC (a search that may take two calls)."""
    keys = {item.position: _cache_key(_wanted(item.track)) for item in pending if item.track}
    cached = await matches.get_matches(s, keys.values())
    left: list[int] = []
    with_isrc: list[int] = []
    for item in pending:
        if item.position not in keys:  # no catalog track: the caller skips those
            continue
        hit = cached.get(keys[item.position])
        if hit is None:
            left.append(item.position)
            if item.track and item.track.isrc:
                with_isrc.append(item.position)
        elif hit.spotify_uri:
            await ledger.mark_item_resolved(s, import_id, item.position, hit.spotify_uri)
        else:
            await ledger.mark_item_not_found(
                s, import_id, item.position, reason="no confident match on Spotify"
            )
    return left, with_isrc


async def _find_or_create_target(d: WorkerDeps, input: FindInput) -> PrepareOutput:
    """One page of the member's playlists, looking for this import's live target; once the
    search is over, record it (creating one if there is none).

    The live target is the recorded one if it is still in the member's library, else one a
    past attempt made and marked. Spotify lists only followed playlists under /me/playlists,
    so a playlist the member deleted (unfollowed) is not found, though its owner could still
    write to it: its tracks stop counting and a new target gets them. Only playlists the
    member owns count: someone else's copy they follow carries the marker too.
    """
    async with d.sessions.begin() as s:
        row = await imports.get_import(s, input.import_id)
        account = await accounts.get_account(s, input.discord_user_id)
    if row is None:
        return PrepareOutput(cancelled=True)
    me = account.spotify_user_id if account else None
    owner = (row.guild_id, row.catalog_playlist_id or 0)
    known = row.target_playlist_id
    marked = (input.marked_id, input.marked_url) if input.marked_id else None
    made: str | None = None
    try:
        page = await _spotify(
            d,
            input.discord_user_id,
            lambda sp: sp.current_user_playlists(limit=PAGE_SIZE, offset=input.offset),
        )
        items = [
            p
            for p in page.get("items") or []
            if p and (not me or (p.get("owner") or {}).get("id") == me)
        ]
        found = next(((known, _url(p)) for p in items if known and str(p.get("id")) == known), None)
        if found is None and marked is None:
            marked = next(
                (
                    (str(p["id"]), _url(p))
                    for p in items
                    if owner in parse_markers(str(p.get("description") or ""))
                ),
                None,
            )
        if found is None and page.get("next"):
            return PrepareOutput(
                scan_from=input.offset + PAGE_SIZE,
                marked_id=marked[0] if marked else None,
                marked_url=marked[1] if marked else None,
            )
        found = found or marked
        lost = known is not None and (found is None or found[0] != known)
        if lost:
            async with d.sessions.begin() as s:
                reset = await imports.forget_lost_target(s, input.import_id, str(known))
            log.warning(
                "import %s: target %s is no longer in the member's library; "
                "%s tracks go to a new one",
                input.import_id,
                known,
                reset,
            )
        if found is None:
            created = await _spotify(
                d,
                input.discord_user_id,
                lambda sp: sp.current_user_playlist_create(
                    row.playlist_name or "Mixtape import",
                    public=False,
                    description=f"Imported with Mixtape. {marker(*owner)}",
                ),
                write=True,
            )
            found = (str(created["id"]), _url(created))
            made = found[0]
    except RateLimited as exc:
        return PrepareOutput(retry_after=exc.retry_after, reason=exc.reason)
    except Permanent as exc:  # retrying cannot help; the member needs to know
        raise NonRetryableException(
            f"Spotify refused to make the playlist in your account ({exc})."
        ) from exc
    async with d.sessions.begin() as s:
        stored = await imports.set_target_playlist(s, input.import_id, *found)
        # A playlist this step just made holds nothing: its length is known without a
        # read, in the same commit that records it (a retried step finds it instead, and
        # reconciles it as any found target).
        created = made is not None and stored.playlist_id == made
        to_add = None
        if created:
            await imports.set_target_length(s, input.import_id, 0)
            if input.settle_new:
                to_add = await _settle_in(s, input.import_id, {}, 0)
    return PrepareOutput(
        target_playlist_id=stored.playlist_id,
        target_url=stored.url,
        lost_target=lost,
        created=created,
        settled=created and input.settle_new,
        to_add=to_add,
    )


async def _read_target(d: WorkerDeps, input: AddInput, *, offset: int, pages: int) -> ReadOutput:
    """Up to `pages` pages of the target from `offset`, counted per song."""
    try:
        uris, total = await _read_all_items(
            d,
            input.discord_user_id,
            input.target_playlist_id,
            start=offset,
            stop=offset + pages * PAGE_SIZE,
        )
    except RateLimited as exc:
        return ReadOutput(retry_after=exc.retry_after, reason=exc.reason)
    except Permanent as exc:
        raise NonRetryableException(_target_gone(exc)) from exc
    return ReadOutput(held=dict(Counter(uris)), read=len(uris), total=total)


async def _settle(d: WorkerDeps, import_id: int, held: dict[str, int], total: int) -> int:
    """Mark what the target already holds, remember its length, fail what cannot fit;
    the tracks left to add."""
    async with d.sessions.begin() as s:
        return await _settle_in(s, import_id, held, total)


async def _settle_in(s: AsyncSession, import_id: int, held: dict[str, int], total: int) -> int:
    """`_settle` inside the caller's transaction."""
    wanted = await ledger.target_sequence(s, import_id)
    await removals.plan_removals(s, import_id, held)  # a follower's copy, if they chose it
    there = already_there(held, wanted)
    await ledger.mark_items_added(s, import_id, there, already_present=True)
    await imports.set_target_length(s, import_id, total)
    settled = set(there)
    to_add = [pos for pos, _, added in wanted if not added and pos not in settled]
    room = max(PLAYLIST_LIMIT - total, 0)
    overflow = to_add[room:]
    if overflow:
        await ledger.mark_items_failed(
            s, import_id, overflow, f"Spotify playlists hold at most {PLAYLIST_LIMIT:,} tracks"
        )
    return min(len(to_add), room)


def add_batches(left: int | None) -> int:
    """The batches the next add child takes, so the rate-limit units it is charged: the
    tracks `left` in batches of 100, at least one (it then finds whether it is done), at
    most `ADD_BATCHES`; unknown (None) counts as the most."""
    if left is None:
        return ADD_BATCHES
    return min(max(-(-left // BATCH_SIZE), 1), ADD_BATCHES)


async def _search(d: WorkerDeps, user_id: int, wanted: Track) -> str | None:
    """ISRC first, then artist and title; None below the confidence bar."""
    queries = [f"isrc:{wanted.isrc}"] if wanted.isrc else []
    artist = wanted.artists[0] if wanted.artists else ""
    queries.append(f"track:{wanted.title} artist:{artist}".strip())
    for query in queries:
        found = await _spotify(
            d,
            user_id,
            lambda sp, q=query: sp.search(q, limit=10, type="track", market="from_token"),
        )
        candidates = [
            parse_track(t)
            for t in (found.get("tracks") or {}).get("items") or []
            if t and t.get("id")
        ]
        best = best_match(wanted, candidates)
        if best is not None:
            return best[0].uri
    return None


async def _resolve_one(
    d: WorkerDeps, input: ResolveInput, item: ImportItem, key: str, cached: TrackMatch | None
) -> StepResult | None:
    """Resolve one pending song (`cached`: the match cache's answer for its `key`); a
    StepResult only when Spotify asked us to wait."""
    assert item.track is not None
    position, wanted = item.position, _wanted(item.track)
    try:
        uri = cached.spotify_uri if cached else await _search(d, input.discord_user_id, wanted)
    except RateLimited as exc:
        return StepResult(retry_after=exc.retry_after, reason=exc.reason)
    except Permanent as exc:
        async with d.sessions.begin() as s:
            await ledger.mark_item_failed(s, input.import_id, position, str(exc))
        return None
    async with d.sessions.begin() as s:
        if cached is None:
            await matches.save_match(s, key, uri, 1.0 if uri else 0.0)
        if uri:
            await ledger.mark_item_resolved(s, input.import_id, position, uri)
        else:
            await ledger.mark_item_not_found(
                s, input.import_id, position, reason="no confident match on Spotify"
            )
    return None


@dataclass(frozen=True, slots=True)
class _Batch:
    """The next batch to append, read with the import's row: a reason to stop, or the
    tracks (none: all added) and the target's length as last recorded."""

    stop: StepResult | None
    items: list[tuple[int, str]]  # (position, URI)
    length: int | None


async def _next_batch(s: AsyncSession, input: AddInput, ctx: Context) -> _Batch:
    """The stop check and the next batch, in one transaction."""
    row = await imports.get_import(s, input.import_id)
    if stop := _stop_for(row, input, ctx):
        return _Batch(stop, [], None)
    items = await ledger.next_to_add(s, input.import_id, BATCH_SIZE)
    return _Batch(None, items, row.target_length if row else None)


async def _add_one_batch(
    d: WorkerDeps, input: AddInput, ctx: Context, nxt: _Batch, *, recheck: bool
) -> tuple[AddOutput, _Batch]:
    """Append `nxt`'s tracks, in order, and commit them; also what comes next (read in
    the commit that records this batch, so each batch costs one transaction).

    With `recheck`, an earlier attempt may have landed without us hearing back: the target
    is read right after its known length first, and what is there is only recorded.
    """
    batch, length = nxt.items, nxt.length
    positions, uris = [pos for pos, _ in batch], [uri for _, uri in batch]
    try:
        if recheck:
            landed = await _landed(d, input, length, uris)
            if landed:
                async with d.sessions.begin() as s:
                    await ledger.mark_items_added(s, input.import_id, positions[:landed])
                    await imports.extend_target_length(s, input.import_id, landed)
                    nxt = await _next_batch(s, input, ctx)
                return AddOutput(added=landed), nxt
        await _spotify(
            d,
            input.discord_user_id,
            lambda sp: add_items(sp, input.target_playlist_id, uris),
            write=True,
        )
    except RateLimited as exc:
        return AddOutput(retry_after=exc.retry_after, reason=exc.reason), nxt
    except Permanent as exc:
        if exc.status in (403, 404):
            raise NonRetryableException(_target_gone(exc)) from exc
        async with d.sessions.begin() as s:
            await ledger.mark_items_failed(s, input.import_id, positions, str(exc))
        return AddOutput(added=0, failed=len(batch)), nxt
    async with d.sessions.begin() as s:
        await ledger.mark_items_added(s, input.import_id, positions)
        await imports.extend_target_length(s, input.import_id, len(batch))
        nxt = await _next_batch(s, input, ctx)
    return AddOutput(added=len(batch)), nxt


async def _landed(d: WorkerDeps, input: AddInput, length: int | None, uris: list[str]) -> int:
    """How many of `uris` already sit where this batch lands (an unacknowledged add).

    The batch lands right after the target's length as we last knew it (reconcile read it,
    each landed batch extends it); the member's own songs before it do not matter.
    """
    if length is None:  # not reconciled yet: the reconcile step settles it instead
        return 0
    tail, _ = await _read_all_items(
        d, input.discord_user_id, input.target_playlist_id, start=length, stop=length + len(uris)
    )
    landed = 0
    for got, want in zip(tail, uris, strict=False):
        if got != want:
            break
        landed += 1
    return landed


def already_there(
    present: Iterable[str] | Mapping[str, int], wanted: list[tuple[int, str, bool]]
) -> list[int]:
    """Positions not yet added whose song the target already holds, whatever its order.

    Counted per song: for a song the source holds n times and the target k times, n - k
    copies are still to add (never fewer than none). The first copies in source order
    count as there, so what is added keeps the source's order.
    """
    held = Counter(present)  # a mapping is taken as counts already
    wanted_count = Counter(uri for _, uri, _ in wanted)
    ours = Counter(uri for _, uri, added in wanted if added)
    to_mark = {
        uri: (n - ours[uri]) - min(max(n - held[uri], 0), n - ours[uri])
        for uri, n in wanted_count.items()
    }
    there: list[int] = []
    for position, uri, added in wanted:
        if not added and to_mark[uri] > 0:
            to_mark[uri] -= 1
            there.append(position)
    return there


def _url(playlist: dict[str, Any]) -> str | None:
    url = (playlist.get("external_urls") or {}).get("spotify")
    return str(url) if url else None


def _target_gone(exc: Permanent) -> str:
    return (
        "The target playlist is gone or no longer yours on Spotify; /retry makes a new "
        f"one. ({exc})"
    )
