"""`share-playlist`: read a member's playlist, page by page, into the server's catalog.

A durable parent spawns one child task per page. Children retry transient Spotify errors
with exponential backoff (Hatchet's retries); a 429 comes back as a result, and the parent
waits out its Retry-After with a durable sleep, so no worker slot is held while waiting and
a crash does not restart the wait. Every page write is idempotent (positions are replaced,
not appended), so a replay after a crash writes the same rows.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
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
from hatchet_sdk.exceptions import FailedTaskRunExceptionGroup, TaskRunError
from hatchet_sdk.runnables.workflow import BaseWorkflow, Standalone
from pydantic import BaseModel

from mixtape.settings import Settings
from music.errors import AuthExpired, Permanent, RateLimited
from music.models import parse_items_page, parse_playlist
from spotify_access.calls import NotLinked, NotRegistered, call_as_member
from storage import accounts, catalog, follows
from storage.catalog import TrackData
from storage.enums import PlaylistStatus
from voice import share_progress
from workflows.child_errors import ChildResult, EngineUnavailable, run_child, run_paced
from workflows.contracts import SHARE_PLAYLIST, ShareInput, ShareOutput, Snowflake
from workflows.follow import FanoutInput, FanoutOutput
from workflows.follow_report import ReportInput, ReportOutput
from workflows.lifespan import WorkerDeps, deps
from workflows.progress import ChannelProgress
from workflows.rate_limits import spotify_step

log = logging.getLogger(__name__)

PAGE_SIZE = 50  # the API's maximum for playlist items
READ_META = "share-read-meta"
READ_PAGE = "share-read-page"
#: How long the share waits for its summary to be posted before handing it to the report.
REPORT_POST_WAIT_SECONDS = 30.0
#: Starting the report (an engine call) takes at most this; past it, the summary stays.
REPORT_START_TIMEOUT_SECONDS = 30.0

ChildOut = TypeVar("ChildOut", bound="ChildResult")


class MetaInput(BaseModel):
    catalog_playlist_id: int
    sharer_discord_user_id: Snowflake


class MetaOutput(ChildResult):
    provider_playlist_id: str = ""
    name: str = ""
    owner_name: str = ""
    url: str = ""
    total: int = 0


class PageInput(BaseModel):
    catalog_playlist_id: int
    sharer_discord_user_id: Snowflake
    provider_playlist_id: str
    offset: int
    first_position: int


class PageOutput(ChildResult):
    kept: int = 0
    skipped: dict[str, int] = {}
    total: int = 0
    has_next: bool = False


class ShareFailed(Exception):
    """A share that cannot succeed; the message is for the member."""


async def _as_sharer(d: WorkerDeps, user_id: int, op: Any) -> Any:
    """One Spotify call with the sharer's grant; permanent problems end the share at once."""
    try:
        return await call_as_member(d.sessions, d.cipher, d.spotify, user_id, op)
    except NotLinked as exc:
        raise NonRetryableException("The member who shared this unlinked Spotify.") from exc
    except NotRegistered as exc:
        raise NonRetryableException(
            "This Spotify app is in development mode and the sharer's account is not on its "
            "allow-list; the server's operator can add it in Spotify's Developer Dashboard."
        ) from exc
    except Permanent as exc:
        raise NonRetryableException(_permanent_message(exc)) from exc


def _may_share(playlist: dict[str, Any], spotify_user_id: str | None) -> bool:
    """Owner or collaborator: Spotify includes a playlist's `items` only for those."""
    owner = str((playlist.get("owner") or {}).get("id") or "")
    return (spotify_user_id is not None and owner == spotify_user_id) or isinstance(
        playlist.get("items"), dict
    )


def _permanent_message(exc: Permanent) -> str:
    if isinstance(exc, AuthExpired):
        return "The Spotify link expired; run /link again, then share again."
    if exc.status == 404:
        return "Spotify says this playlist no longer exists."
    if exc.status == 403:
        return (
            "Spotify refused to show this playlist's tracks: only its owner or a "
            "collaborator can share it."
        )
    return f"Spotify refused the request ({exc})."


def build_share(
    hatchet: Hatchet,
    settings: Settings,
    fanout: Standalone[FanoutInput, FanoutOutput] | None = None,
    report: Standalone[ReportInput, ReportOutput] | None = None,
) -> list[BaseWorkflow[Any]]:
    """Declare `share-playlist` and its child tasks; a re-read that changed the entry's
    songs hands the change to `fanout` (followers' copies), and its message to `report`,
    which counts the copies there as they are updated."""
    step = spotify_step(settings, member_field="sharer_discord_user_id")

    @hatchet.task(name=READ_META, input_validator=MetaInput, **step)
    async def read_meta(input: MetaInput, ctx: Context) -> MetaOutput:
        d = deps(ctx)
        async with d.sessions.begin() as s:
            entry = await catalog.get_catalog_playlist(s, input.catalog_playlist_id)
        if entry is None:
            raise NonRetryableException("This playlist was removed from the catalog meanwhile.")
        try:
            data = await _as_sharer(
                d,
                input.sharer_discord_user_id,
                lambda sp: sp.playlist(entry.provider_playlist_id, market="from_token"),
            )
        except RateLimited as exc:
            return MetaOutput(retry_after=exc.retry_after)
        async with d.sessions.begin() as s:
            sharer = await accounts.get_account(s, input.sharer_discord_user_id)
        if not _may_share(data, sharer.spotify_user_id if sharer else None):
            # The bot checked this; a run that skipped it (forged, or the member lost access
            # meanwhile) must not put someone else's playlist into the catalog.
            log.error(
                "share of entry %s refused: member %s neither owns nor collaborates on it",
                input.catalog_playlist_id,
                input.sharer_discord_user_id,
            )
            raise NonRetryableException("Only the playlist's owner or a collaborator can share it.")
        meta = parse_playlist(data)
        async with d.sessions.begin() as s:
            await catalog.update_catalog_metadata(
                s,
                input.catalog_playlist_id,
                name=meta.name,
                description=meta.description,
                owner_display_name=meta.owner_name,
                snapshot_id=meta.snapshot_id,
            )
            # The songs before this read, to measure what it changed (kept across a crash).
            await follows.remember_previous(s, input.catalog_playlist_id)
            await catalog.mark_catalog_status(s, input.catalog_playlist_id, PlaylistStatus.READING)
        return MetaOutput(
            provider_playlist_id=meta.playlist_id,
            name=meta.name,
            owner_name=meta.owner_name,
            url=meta.url or entry.url,
            total=meta.total,
        )

    @hatchet.task(name=READ_PAGE, input_validator=PageInput, **step)
    async def read_page(input: PageInput, ctx: Context) -> PageOutput:
        d = deps(ctx)
        try:
            data = await _as_sharer(
                d,
                input.sharer_discord_user_id,
                # No market: entries then carry `available_markets`, which imports use to
                # warn members in countries where a track does not play.
                lambda sp: sp.playlist_items(
                    input.provider_playlist_id,
                    limit=PAGE_SIZE,
                    offset=input.offset,
                    additional_types=("track", "episode"),
                ),
            )
        except RateLimited as exc:
            return PageOutput(retry_after=exc.retry_after)
        page = parse_items_page(data)
        tracks = [
            TrackData(
                title=t.title,
                artists=t.artists,
                duration_ms=t.duration_ms,
                album=t.album or None,
                isrc=t.isrc,
                provider_track_id=t.provider_id,
                provider_uri=t.uri,
                markets=t.markets,
            )
            for _, t in page.tracks
        ]
        async with d.sessions.begin() as s:
            await catalog.replace_catalog_track_range(
                s, input.catalog_playlist_id, input.first_position, tracks
            )
        return PageOutput(
            kept=len(tracks), skipped=page.skipped, total=page.total, has_next=page.has_next
        )

    @hatchet.durable_task(
        name=SHARE_PLAYLIST,
        input_validator=ShareInput,
        execution_timeout=timedelta(hours=6),
        retries=0,
        # One share of a catalog entry at a time: a second one waits for the first, so two
        # never write the same entry's tracks side by side.
        concurrency=ConcurrencyExpression(
            expression="string(input.catalog_playlist_id)",
            max_runs=1,
            limit_strategy=ConcurrencyLimitStrategy.GROUP_ROUND_ROBIN,
        ),
    )
    async def share_playlist(input: ShareInput, ctx: DurableContext) -> ShareOutput:
        d = deps(ctx)
        progress = _Progress(d, input, settings.progress_interval_seconds)
        try:
            out = await _share(ctx, d, input, progress)
        except BaseException:
            progress.abandon()  # cancelled or crashed: a newer run owns the message now
            raise
        await progress.close()
        return out

    async def _share(
        ctx: DurableContext, d: WorkerDeps, input: ShareInput, progress: _Progress
    ) -> ShareOutput:
        sharer = input.sharer_discord_user_id
        waits = _Waits(ctx, progress, settings.max_rate_limit_waits, sharer)
        name = "playlist"
        try:
            meta = await waits.run(
                read_meta,
                MetaInput(
                    catalog_playlist_id=input.catalog_playlist_id,
                    sharer_discord_user_id=input.sharer_discord_user_id,
                ),
                "meta",
                name,
            )
            name = meta.name
            await progress.update(
                share_progress.reading(name, sharer, 0, meta.total, _now()), final=True
            )
            kept, skipped, offset = 0, Counter[str](), 0
            while True:
                page = await waits.run(
                    read_page,
                    PageInput(
                        catalog_playlist_id=input.catalog_playlist_id,
                        sharer_discord_user_id=input.sharer_discord_user_id,
                        provider_playlist_id=meta.provider_playlist_id,
                        offset=offset,
                        first_position=kept,
                    ),
                    f"page-{offset}",
                    name,
                )
                kept += page.kept
                skipped.update(page.skipped)
                offset += PAGE_SIZE
                done = min(offset, page.total)
                await progress.update(
                    share_progress.reading(name, sharer, done, page.total, _now())
                )
                if not page.has_next:
                    break
        except ShareFailed as exc:
            return await _fail(d, input, progress, name, str(exc))
        async with d.sessions.begin() as s:
            count = await catalog.finish_catalog_tracks(
                s, input.catalog_playlist_id, kept, skipped=dict(skipped)
            )
            await catalog.mark_catalog_status(s, input.catalog_playlist_id, PlaylistStatus.READY)
            change = await follows.measure_change(s, input.catalog_playlist_id)
            entry = await catalog.get_catalog_playlist(s, input.catalog_playlist_id)
        duration_ms = entry.total_duration_ms if entry else 0
        started = await _serve_followers(ctx, input, change)
        embed = share_progress.summary(
            name=name,
            sharer_id=sharer,
            at=_now(),
            owner=meta.owner_name,
            url=meta.url,
            track_count=count,
            duration_ms=duration_ms,
            skipped=dict(skipped),
            updated=(
                share_progress.change(
                    change.added,
                    change.removed,
                    change.moved,
                    None if started is None else len(started),
                )
                if change is not None
                else None
            ),
        )
        if not input.refresh or (change is not None and change.changed):
            await progress.update(embed, final=True, speak=True)
            posted = await _posted(progress) if started else None
            if change is not None and started and entry is not None and posted is not None:
                await _report_followers(
                    entry.guild_id,
                    ReportInput(
                        catalog_playlist_id=input.catalog_playlist_id,
                        sharer_discord_user_id=sharer,
                        channel_id=input.channel_id,
                        message_id=posted,
                        name=name,
                        owner=meta.owner_name,
                        url=meta.url,
                        track_count=count,
                        duration_ms=duration_ms,
                        skipped=dict(skipped),
                        added=change.added,
                        removed=change.removed,
                        moved=change.moved,
                        import_ids=started,
                    ),
                )
        return ShareOutput(
            catalog_playlist_id=input.catalog_playlist_id,
            track_count=count,
            skipped=dict(skipped),
            status=PlaylistStatus.READY.value,
        )

    async def _serve_followers(
        ctx: DurableContext, input: ShareInput, change: follows.Change | None
    ) -> list[int] | None:
        """Start the followers' updates of a change; their imports (None: not asked)."""
        if fanout is None or change is None or not (change.added or change.removed):
            return None  # a reorder alone reaches no copy
        try:
            out = await run_child(
                ctx,
                fanout,
                FanoutInput(
                    catalog_playlist_id=input.catalog_playlist_id, channel_id=input.channel_id
                ),
                "follow-fanout",
            )
        except (FailedTaskRunExceptionGroup, TaskRunError, EngineUnavailable):
            log.exception(
                "entry %s: starting the followers' updates failed", input.catalog_playlist_id
            )
            return None
        return out.started

    async def _posted(progress: _Progress) -> int | None:
        """The summary's message once Discord has it; None when it was not posted."""
        if report is None:
            return None
        return await progress.posted(REPORT_POST_WAIT_SECONDS)

    async def _report_followers(guild_id: int, payload: ReportInput) -> None:
        """Start `report` on the summary's message (best-effort: a report that could not
        start leaves the summary as it is)."""
        assert report is not None
        try:
            async with asyncio.timeout(REPORT_START_TIMEOUT_SECONDS):
                await report.aio_run(
                    payload,
                    wait_for_result=False,
                    child_key="follow-report",
                    additional_metadata={
                        "guild_id": str(guild_id),
                        "catalog_playlist_id": str(payload.catalog_playlist_id),
                        "user_id": str(payload.sharer_discord_user_id),
                        "follow": "report",
                    },
                )
        except Exception:
            log.exception(
                "entry %s: starting the count of followers' copies failed",
                payload.catalog_playlist_id,
            )

    workflows: list[BaseWorkflow[Any]] = [read_meta, read_page, share_playlist]
    return workflows


async def _remember(d: WorkerDeps, input: ShareInput, message_id: int) -> None:
    """A later /share of the entry points to the newest message about it."""
    async with d.sessions.begin() as s:
        await catalog.set_share_message(s, input.catalog_playlist_id, input.channel_id, message_id)


class _Progress:
    """The share's progress message, or silence: a re-read for following speaks only
    when it has something to say (a change), and nothing without a channel."""

    def __init__(self, d: WorkerDeps, input: ShareInput, interval: float) -> None:
        self._quiet = input.refresh
        self._sender = (
            ChannelProgress(
                d.discord,
                input.channel_id,
                input.message_id,
                interval=interval,
                keep=d.background,
                post_first=input.refresh,
                on_new_message=lambda message_id: _remember(d, input, message_id),
            )
            if input.channel_id
            else None
        )

    async def update(self, embed: Any, *, final: bool = False, speak: bool = False) -> None:
        if self._sender is not None and (speak or not self._quiet):
            await self._sender.update(embed, final=final)

    async def posted(self, within: float) -> int | None:
        """The message's id once the last state reached Discord (waiting up to `within`
        seconds); None without a message."""
        if self._sender is None:
            return None
        await self._sender.flush(within)
        return self._sender.message_id

    async def close(self) -> None:
        if self._sender is not None:
            await self._sender.close()

    def abandon(self) -> None:
        if self._sender is not None:
            self._sender.abandon()


def _now() -> datetime:
    """When a progress state is written (its timestamp; not part of the durable replay)."""
    return datetime.now(UTC)


class _Waits:
    """Run a child; when it reports a 429, say so and sleep durably for its Retry-After."""

    def __init__(self, ctx: DurableContext, progress: _Progress, limit: int, sharer: int) -> None:
        self._ctx = ctx
        self._sharer = sharer
        self._progress = progress
        self._limit = limit

    async def run(
        self, task: Standalone[Any, ChildOut], payload: BaseModel, key: str, name: str
    ) -> ChildOut:
        async def wait(seconds: float, reason: str | None) -> None:
            log.info("share child %s rate limited; durable sleep %.1fs", key, seconds)
            await self._progress.update(
                share_progress.waiting(name, self._sharer, seconds, _now()), final=True
            )
            await self._ctx.aio_sleep_for(timedelta(seconds=seconds))

        return await run_paced(
            self._ctx,
            task,
            payload,
            key,
            waits=self._limit,
            wait=wait,
            failed=ShareFailed,
            gave_up="Reading the playlist from Spotify failed repeatedly; try sharing again later.",
            slowed="Spotify kept asking us to slow down; try sharing again later.",
        )


async def _fail(
    d: WorkerDeps, input: ShareInput, progress: _Progress, name: str, reason: str
) -> ShareOutput:
    async with d.sessions.begin() as s:
        await catalog.mark_catalog_status(
            s, input.catalog_playlist_id, PlaylistStatus.FAILED, error=reason
        )
    await progress.update(
        share_progress.failed(name, input.sharer_discord_user_id, reason, _now()),
        final=True,
        speak=True,
    )
    return ShareOutput(
        catalog_playlist_id=input.catalog_playlist_id,
        track_count=0,
        skipped={},
        status=PlaylistStatus.FAILED.value,
    )
