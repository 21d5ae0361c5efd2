"""Following: shared playlists keep up with their source, and followers' copies with them.

`catalog-follow` runs on a schedule (FOLLOW_CRON) and starts one `follow-check` per entry.
A check costs one Spotify call with the sharer's grant (only the owner and collaborators
may read a playlist's items): the playlist's `snapshot_id`. Unchanged, nothing else
happens. Changed, the entry is read again by the share workflow (durably, page by page, as
a /share does), which measures the change and hands it to `follow-fanout`: each follower
gets an import of the entry into the copy they already have. That import is an ordinary
one (ledger first, per-song counts, paced per member, crash-safe), so it appends only what
the copy lacks and never goes beyond what the source holds. A follower who chose it also
loses from their copy the songs that left the source, only those Mixtape added
(`storage.removals`).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from hatchet_sdk import Context, Hatchet
from hatchet_sdk.runnables.workflow import BaseWorkflow, Standalone
from pydantic import BaseModel

from mixtape.settings import Settings
from music.errors import AuthExpired, Permanent, RateLimited
from spotify_access.calls import NotLinked, NotRegistered, call_as_member
from storage import catalog, follows, imports
from storage.enums import PlaylistStatus
from storage.errors import ActiveImportExists, PlaylistNotFound, PlaylistNotReady
from workflows.contracts import ImportInput, ShareInput, Snowflake
from workflows.lifespan import deps
from workflows.rate_limits import spotify_step

log = logging.getLogger(__name__)

CATALOG_FOLLOW = "catalog-follow"
FOLLOW_CHECK = "follow-check"
FOLLOW_FANOUT = "follow-fanout"
TRIGGER_CHUNK = 500  # checks started by one bulk trigger

UNLINKED = "the member who shared it unlinked Spotify; sharing it again resumes following"
UNREADABLE = "Spotify no longer lets its sharer read it; sharing it again resumes following"
EXPIRED = "its sharer's Spotify link expired; sharing it again after /link resumes following"
NOT_ALLOWED = "its sharer's Spotify account is not on this app's allow-list"


class FollowOutput(BaseModel):
    checks: int


class CheckInput(BaseModel):
    catalog_playlist_id: int
    sharer_discord_user_id: Snowflake


class CheckOutput(BaseModel):
    outcome: str  # unchanged, refreshing, paused, busy, gone, rate-limited


class FanoutInput(BaseModel):
    catalog_playlist_id: int
    channel_id: Snowflake


class FanoutOutput(BaseModel):
    started: list[int]
    busy: int


def _paused_reason(exc: Exception) -> str:
    if isinstance(exc, NotLinked):
        return UNLINKED
    if isinstance(exc, NotRegistered):
        return NOT_ALLOWED
    if isinstance(exc, AuthExpired):
        return EXPIRED
    return UNREADABLE


def build_follow_checks(
    hatchet: Hatchet, settings: Settings, share_playlist: Standalone[ShareInput, Any]
) -> list[BaseWorkflow[Any]]:
    """Declare the schedule and the per-entry check, which re-reads through `share_playlist`."""

    @hatchet.task(
        name=FOLLOW_CHECK,
        input_validator=CheckInput,
        **spotify_step(settings, member_field="sharer_discord_user_id"),
    )
    async def check(input: CheckInput, ctx: Context) -> CheckOutput:
        """One call: the source's snapshot id. A new one starts a re-read of the entry."""
        d = deps(ctx)
        async with d.sessions.begin() as s:
            entry = await catalog.get_catalog_playlist(s, input.catalog_playlist_id)
        if entry is None or entry.owner_discord_user_id != input.sharer_discord_user_id:
            return CheckOutput(outcome="gone")  # unshared meanwhile (or a forged run)
        if entry.status is not PlaylistStatus.READY or entry.follow_paused_reason:
            return CheckOutput(outcome="busy")
        try:
            data = await call_as_member(
                d.sessions,
                d.cipher,
                d.spotify,
                entry.owner_discord_user_id,
                lambda sp: sp.playlist(entry.provider_playlist_id, fields="snapshot_id"),
            )
        except RateLimited:
            log.info("follow check of entry %s rate limited; the next run checks it", entry.id)
            return CheckOutput(outcome="rate-limited")
        except Permanent as exc:
            known = isinstance(exc, (NotLinked, NotRegistered, AuthExpired))
            if not known and exc.status not in (403, 404):
                raise  # a refusal we do not know: the run fails, visibly, in the dashboard
            reason = _paused_reason(exc)
            log.warning("following of entry %s paused: %s (%s)", entry.id, reason, exc)
            async with d.sessions.begin() as s:
                await follows.pause_following(s, entry.id, reason)
            return CheckOutput(outcome="paused")
        if data.get("snapshot_id") == entry.snapshot_id:
            async with d.sessions.begin() as s:
                await follows.mark_checked(s, entry.id)
            return CheckOutput(outcome="unchanged")
        async with d.sessions.begin() as s:
            claimed = await catalog.claim_refresh(s, entry.id)
        if not claimed:  # a /share of it started meanwhile; it measures the change itself
            return CheckOutput(outcome="busy")
        try:
            await share_playlist.aio_run(
                ShareInput(
                    catalog_playlist_id=entry.id,
                    sharer_discord_user_id=entry.owner_discord_user_id,
                    channel_id=entry.share_channel_id or 0,
                    refresh=True,
                ),
                wait_for_result=False,
                additional_metadata={
                    "guild_id": str(entry.guild_id),
                    "catalog_playlist_id": str(entry.id),
                    "user_id": str(entry.owner_discord_user_id),
                    "follow": "refresh",
                },
            )
        except Exception:
            # Not started: give the entry back, or it would wait as "being read" for hours.
            async with d.sessions.begin() as s:
                await catalog.mark_catalog_status(s, entry.id, PlaylistStatus.READY)
            raise
        return CheckOutput(outcome="refreshing")

    @hatchet.task(
        name=CATALOG_FOLLOW,
        on_crons=[settings.follow_cron],
        execution_timeout=timedelta(minutes=10),
        retries=1,
    )
    async def follow_sources(input: Any, ctx: Context) -> FollowOutput:
        """One check per entry that follows its source; each is paced like any call."""
        d = deps(ctx)
        async with d.sessions.begin() as s:
            entries = await follows.entries_to_check(s)
        # In bulk, a chunk at a time: one trigger per entry would make the dispatch, not the
        # checks, the cost (about 0.1-0.2 s each, past the timeout at a few thousand entries).
        for start in range(0, len(entries), TRIGGER_CHUNK):
            await check.aio_run_many(
                [
                    check.create_bulk_run_item(
                        CheckInput(
                            catalog_playlist_id=entry.id,
                            sharer_discord_user_id=entry.owner_discord_user_id,
                        ),
                        additional_metadata={
                            "guild_id": str(entry.guild_id),
                            "catalog_playlist_id": str(entry.id),
                            "user_id": str(entry.owner_discord_user_id),
                            "follow": "check",
                        },
                    )
                    for entry in entries[start : start + TRIGGER_CHUNK]
                ],
                wait_for_result=False,
            )
        return FollowOutput(checks=len(entries))

    return [check, follow_sources]


def build_fanout(
    hatchet: Hatchet, import_playlist: Standalone[ImportInput, Any]
) -> Standalone[FanoutInput, FanoutOutput]:
    """Declare the followers' fan-out, which starts runs of `import_playlist`."""

    @hatchet.task(name=FOLLOW_FANOUT, input_validator=FanoutInput, retries=2)
    async def fanout(input: FanoutInput, ctx: Context) -> FanoutOutput:
        """An import for each follower of a changed entry, into the copy they have.

        Safe to run twice: a follower whose update is still active is refused by the
        one-active-import index, and one that finished adds nothing the second time.
        """
        d = deps(ctx)
        started: list[int] = []
        busy = 0
        async with d.sessions.begin() as s:
            wanted = await follows.followers(s, input.catalog_playlist_id)
            entry = await catalog.get_catalog_playlist(s, input.catalog_playlist_id)
        if entry is not None and not entry.change_added:
            # Songs only left the source: only copies whose members chose removal change.
            wanted = [f for f in wanted if f.follow_remove]
        for follower in wanted:
            try:
                async with d.sessions.begin() as s:
                    row = await imports.create_import_with_ledger(
                        s,
                        guild_id=follower.guild_id,
                        discord_user_id=follower.discord_user_id,
                        catalog_playlist_id=input.catalog_playlist_id,
                        channel_id=input.channel_id or follower.channel_id,
                        follow=True,
                        follow_update=True,
                        follow_remove=follower.follow_remove,
                    )
            except ActiveImportExists:
                busy += 1  # their running import was made before the change: next change
                continue
            except (PlaylistNotFound, PlaylistNotReady):
                break  # unshared or re-read meanwhile: the next change serves them
            ref = await import_playlist.aio_run(
                ImportInput(import_id=row.id, discord_user_id=row.discord_user_id),
                wait_for_result=False,
                additional_metadata={
                    "guild_id": str(row.guild_id),
                    "user_id": str(row.discord_user_id),
                    "import_id": str(row.id),
                    "catalog_playlist_id": str(input.catalog_playlist_id),
                    "follow": "update",
                },
            )
            async with d.sessions.begin() as s:
                await imports.set_workflow_run_id(s, row.id, ref.workflow_run_id)
            started.append(row.id)
        log.info(
            "entry %s changed: %d follower update(s) started, %d busy",
            input.catalog_playlist_id,
            len(started),
            busy,
        )
        return FanoutOutput(started=started, busy=busy)

    return fanout
