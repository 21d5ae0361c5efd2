"""`follow-report`: the channel's message about a change counts the followers' copies.

A re-read that changed a followed entry posts one message ("Late Night Drive updated:
+3 −1 songs; updating 12 followers' copies") and, once the fan-out has started the
followers' imports, starts this task with that message and those imports. It reads their
statuses, edits the message when the counts moved ("3 of 12 followers' copies updated",
then "12 followers' copies updated", and how many could not be, naming nobody: each of
those members is told privately by their import), and sleeps durably in between (5 s,
growing to a minute; no worker slot is held while it waits, and a crash does not restart
the wait). It is a task of its own so that the share's one-run-per-entry concurrency is
not held while followers are served.

Discord refuses edits of a message older than an hour, so it stops 50 minutes after the
message was posted (its id says when); the last state then says how many copies are
still on their way.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import discord
from hatchet_sdk import DurableContext, Hatchet
from hatchet_sdk.runnables.workflow import Standalone
from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError

from mixtape.settings import Settings
from storage import imports
from storage.enums import ImportStatus
from voice import share_progress
from workflows.contracts import Snowflake
from workflows.lifespan import WorkerDeps, deps
from workflows.progress import ChannelProgress

log = logging.getLogger(__name__)

FOLLOW_REPORT = "follow-report"
#: How long after its posting the message is still edited (Discord: at most an hour).
EDIT_WINDOW = timedelta(minutes=50)
#: The pauses between two looks at the imports, then the last one over and over.
PAUSES = (5, 5, 10, 10, 20, 20, 30, 30, 60)
#: One look at the imports' statuses (a database that does not answer skips the look).
READ_TIMEOUT_SECONDS = 30.0
#: How long one edit may take before the next look (the sender keeps trying meanwhile).
EDIT_WAIT_SECONDS = 20.0


class ReportInput(BaseModel):
    """Everything the share's summary shows, the message, and the followers' imports."""

    catalog_playlist_id: int
    sharer_discord_user_id: Snowflake
    channel_id: Snowflake
    message_id: Snowflake
    name: str
    owner: str
    url: str
    track_count: int
    duration_ms: int
    skipped: dict[str, int]
    added: int
    removed: int
    moved: int
    import_ids: list[int]


class ReportOutput(BaseModel):
    updated: int
    failed: int
    waiting: int


@dataclass(frozen=True, slots=True)
class Tally:
    """Where the followers' imports stand."""

    updated: int = 0
    failed: int = 0  # failed or cancelled: their members were told, or did it themselves
    waiting: int = 0


def tally(import_ids: Collection[int], statuses: dict[int, ImportStatus]) -> Tally:
    """Count `import_ids` by status; one no longer stored counts as not updated."""
    updated = failed = waiting = 0
    for import_id in set(import_ids):
        status = statuses.get(import_id)
        if status is ImportStatus.COMPLETED:
            updated += 1
        elif status is None or status.is_terminal:
            failed += 1
        else:
            waiting += 1
    return Tally(updated, failed, waiting)


def pauses() -> Iterator[timedelta]:
    """The same pauses on every run (a replay after a crash asks for the same sleeps)."""
    yield from (timedelta(seconds=s) for s in PAUSES)
    while True:
        yield timedelta(seconds=PAUSES[-1])


def edit_deadline(message_id: int) -> datetime:
    """When to stop editing: `EDIT_WINDOW` after the message was posted."""
    return discord.utils.snowflake_time(message_id) + EDIT_WINDOW


def render(input: ReportInput, counts: Tally, at: datetime, *, final: bool) -> discord.Embed:
    """The share's summary again, with how far the followers' copies got."""
    followers = len(set(input.import_ids))
    return share_progress.summary(
        name=input.name,
        sharer_id=input.sharer_discord_user_id,
        at=at,
        owner=input.owner,
        url=input.url,
        track_count=input.track_count,
        duration_ms=input.duration_ms,
        skipped=input.skipped,
        updated=share_progress.change(
            input.added,
            input.removed,
            input.moved,
            followers,
            updated=counts.updated,
            failed=counts.failed,
            final=final,
        ),
    )


def build_follow_report(
    hatchet: Hatchet, settings: Settings
) -> Standalone[ReportInput, ReportOutput]:
    """Declare `follow-report`, which the share starts after a change reached followers."""

    @hatchet.durable_task(
        name=FOLLOW_REPORT,
        input_validator=ReportInput,
        execution_timeout=EDIT_WINDOW + timedelta(minutes=15),
        retries=1,
    )
    async def report(input: ReportInput, ctx: DurableContext) -> ReportOutput:
        """Keep the change's message counting the copies until all are done, or the
        message is too old to edit (`EDIT_WINDOW`)."""
        d = deps(ctx)
        sender = ChannelProgress(
            d.discord,
            input.channel_id,
            input.message_id,
            interval=settings.progress_interval_seconds,
            keep=d.background,
        )
        try:
            counts = await keep_count(
                input, sender, lambda: _read(d, input), ctx.aio_sleep_for, _now
            )
        except BaseException:
            sender.abandon()
            raise
        await sender.close()
        log.info(
            "follow report of entry %s: %d updated, %d not, %d on their way",
            input.catalog_playlist_id,
            counts.updated,
            counts.failed,
            counts.waiting,
        )
        return ReportOutput(updated=counts.updated, failed=counts.failed, waiting=counts.waiting)

    return report


async def keep_count(
    input: ReportInput,
    sender: ChannelProgress,
    read: Callable[[], Awaitable[Tally | None]],
    sleep: Callable[[timedelta], Awaitable[object]],
    now: Callable[[], datetime],
) -> Tally:
    """Look, edit the message if the counts moved, sleep; until every import is done or
    the next look would come after the edit deadline. The counts last seen."""
    deadline = edit_deadline(input.message_id)
    shown = Tally(waiting=len(set(input.import_ids)))  # what the share's summary says
    counts = shown
    for pause in pauses():
        if now() >= deadline:
            break  # too old to edit safely (a crash and a late replay, say)
        counts = await read() or counts  # unread: as last seen
        last = counts.waiting == 0 or now() + pause >= deadline
        if counts != shown or (last and counts.waiting):
            if not await sender.update(render(input, counts, now(), final=last), final=True):
                log.info("follow report of entry %s: message gone", input.catalog_playlist_id)
                break
            await sender.flush(EDIT_WAIT_SECONDS)
            shown = counts
        if last:
            break
        await sleep(pause)
    return counts


async def _read(d: WorkerDeps, input: ReportInput) -> Tally | None:
    """Where the imports stand; None when the database did not answer in time."""
    try:
        async with asyncio.timeout(READ_TIMEOUT_SECONDS), d.sessions.begin() as s:
            statuses = await imports.import_statuses(s, input.import_ids)
    except (TimeoutError, OSError, DBAPIError) as exc:
        log.warning(
            "follow report of entry %s: reading the imports failed (%r); next look later",
            input.catalog_playlist_id,
            exc,
        )
        return None
    return tally(input.import_ids, statuses)


def _now() -> datetime:
    return datetime.now(UTC)
