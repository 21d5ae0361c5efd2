"""`/import`, `/imports`, `/cancel` and `/retry`: catalog playlists into members' Spotify.

Handlers validate against the database before answering (fast, local), then defer and do
the slow part: post the public progress message, start the `import-playlist` run, record
both on the import. The run reads everything else from the import's row and its ledger.
"""

from __future__ import annotations

import logging
import math
from collections import OrderedDict
from collections.abc import Callable, Collection
from datetime import datetime

import discord
from discord import app_commands
from discord.ext import commands
from sqlalchemy.ext.asyncio import AsyncSession

from bot import errors
from bot.client import MixtapeBot
from bot.exts._shared import (
    CANDIDATES,
    id_in,
    import_cooldown,
    lookup_entry,
    mixtape,
    option_id,
    option_text,
    require_guild,
    suggest_entries,
)
from bot.services import BotServices
from bot.views import PageLoader, Pager
from storage import accounts, catalog, imports, ledger
from storage.enums import ImportStatus, PlaylistStatus
from storage.errors import (
    ActiveImportExists,
    ImportLedgerPruned,
    ImportNotFound,
    ImportNotRetryable,
    PlaylistNotFound,
    PlaylistNotReady,
)
from storage.models import CatalogPlaylist, Import
from voice import import_progress
from voice import replies as render
from workflows.contracts import ImportInput

log = logging.getLogger(__name__)

NO_MENTIONS = discord.AllowedMentions.none()
ACTIVE = (ImportStatus.QUEUED, ImportStatus.RUNNING, ImportStatus.PAUSED)
FINISHED = (ImportStatus.COMPLETED, ImportStatus.FAILED, ImportStatus.CANCELLED)
IMPORTS_PAGE_SIZE = 5
#: Tracks per page of one import's not-imported list (`/imports import:`).
MISSING_PAGE_SIZE = 15
#: `/imports` and the autocompletes look at this many of the member's newest imports.
IMPORTS_LISTED = 100
NOT_STARTED = "could not be started"
_NAME_MEMORY = 1000


def imports_loader(services: BotServices, user_id: int, guild_id: int) -> PageLoader:
    """Render page `index` of the member's imports here, newest first (clamped)."""

    async def load(index: int) -> tuple[discord.Embed, render.PageInfo]:
        async with services.sessions.begin() as session:
            rows = await imports.list_user_imports(
                session, user_id, guild_id=guild_id, limit=IMPORTS_LISTED
            )
        count = max(math.ceil(len(rows) / IMPORTS_PAGE_SIZE), 1)
        index = min(max(index, 0), count - 1)
        shown = rows[index * IMPORTS_PAGE_SIZE : (index + 1) * IMPORTS_PAGE_SIZE]
        page = render.PageInfo(index, count, len(rows))
        capped = len(rows) >= IMPORTS_LISTED
        return render.imports_page(shown, page, guild_id, capped=capped), page

    return load


def not_imported_loader(services: BotServices, imp: Import) -> PageLoader:
    """Render page `index` of the tracks one import did not add, and why (clamped)."""

    async def load(index: int) -> tuple[discord.Embed, render.PageInfo]:
        async with services.sessions.begin() as session:
            _, total = await ledger.not_imported(session, imp.id, limit=0)
            count = max(math.ceil(total / MISSING_PAGE_SIZE), 1)
            index = min(max(index, 0), count - 1)
            items, total = await ledger.not_imported(
                session, imp.id, offset=index * MISSING_PAGE_SIZE, limit=MISSING_PAGE_SIZE
            )
            entry = (
                await catalog.get_catalog_playlist(session, imp.catalog_playlist_id)
                if imp.catalog_playlist_id
                else None
            )
        page = render.PageInfo(index, count, total)
        shown = [import_progress.missing(item) for item in items]
        skipped = dict(entry.skipped or {}) if entry else {}
        return render.not_imported_page(imp, shown, page, skipped), page

    return load


def progress_view(import_id: int, owner_id: int, name: str, total: int) -> import_progress.View:
    """An import's progress message as the bot writes it (queued, or not started)."""
    return import_progress.View(
        import_id=import_id, owner_id=owner_id, name=name, total=total, at=discord.utils.utcnow()
    )


async def ready_catalog_choices(
    interaction: discord.Interaction, current: str
) -> list[app_commands.Choice[str]]:
    """Autocomplete over this guild's importable (ready) entries: value = the catalog id."""
    if interaction.guild_id is None:
        return []
    async with mixtape(interaction).services.sessions.begin() as session:
        entries = await suggest_entries(session, interaction.guild_id, current, ready_only=True)
    return [
        app_commands.Choice(name=render.choice_name(entry), value=option_id(entry.id))
        for entry in entries
    ]


def has_unadded(imp: Import) -> bool:
    """Whether a finished import left tracks out (by the ledger's cached counters)."""
    if imp.failed + imp.not_found > 0:
        return True
    stopped = imp.status in (ImportStatus.FAILED, ImportStatus.CANCELLED)
    return stopped and imp.added + imp.already_present < imp.total


async def lookup_import(
    session: AsyncSession,
    guild_id: int,
    user_id: int,
    raw: str,
    statuses: Collection[ImportStatus],
) -> Import:
    """The import an option names, or a refusal that does nothing (see `bot.exts._shared`).

    An id (`#12`) reaches any import of this guild, in any state (the permission and state
    checks follow); a name only the member's own imports in `statuses`, matched exactly
    in any case. Other guilds' imports are never found.
    """
    text = option_text(raw)
    import_id = id_in(text)
    if import_id is not None:
        imp = await imports.get_import(session, import_id) if import_id else None
        if imp is None or imp.guild_id != guild_id:
            raise errors.ImportNotFound(render.PICK_IMPORT)
        return imp
    if not text:
        raise errors.ImportNotFound(render.PICK_IMPORT)
    mine = await imports.list_user_imports(
        session, user_id, guild_id=guild_id, statuses=statuses, limit=IMPORTS_LISTED
    )
    folded = text.casefold()
    exact = [imp for imp in mine if imp.playlist_name.casefold() == folded]
    if len(exact) == 1:
        return exact[0]
    if exact:
        raise errors.PickOne(render.imports_named_alike(text, exact[:CANDIDATES]))
    close = [imp for imp in mine if folded in imp.playlist_name.casefold()]
    if close:
        raise errors.PickOne(render.imports_named_close(text, close[:CANDIDATES]))
    raise errors.ImportNotFound(render.no_import_named(text))


def require_owner_or_manager(interaction: discord.Interaction, imp: Import, action: str) -> None:
    """The importer, or a member with Manage Server, may cancel or retry an import."""
    if imp.discord_user_id == interaction.user.id or interaction.permissions.manage_guild:
        return
    raise errors.NotAllowed(render.import_action_refused(import_progress.title(imp), action))


def require_may_retry(interaction: discord.Interaction, imp: Import) -> None:
    """As for cancel, except that a cancelled import is retried only by its owner: a
    manager must not resume writes into someone's Spotify that they chose to stop."""
    if imp.status is ImportStatus.CANCELLED and imp.discord_user_id != interaction.user.id:
        raise errors.NotAllowed(render.cancelled_retry_refused(imp))
    require_owner_or_manager(interaction, imp, "retry")


def require_ready(entry: CatalogPlaylist) -> None:
    """Only an entry whose tracks were read can be imported."""
    if entry.status is not PlaylistStatus.READY:
        raise errors.NotImportable(render.not_importable(entry))


async def refuse_duplicate(session: AsyncSession, user_id: int, entry: CatalogPlaylist) -> None:
    """One unfinished import of a playlist per member."""
    if await imports.find_active_import(session, user_id, entry.id) is not None:
        raise errors.AlreadyImporting(render.already_importing(render.playlist_title(entry)))


class Imports(commands.Cog):
    """Starts, lists, cancels and retries imports; the work itself is the workflow's."""

    def __init__(self, bot: MixtapeBot) -> None:
        self.bot = bot
        self.services = bot.services
        #: Display names of members seen lately, to label others' imports for managers.
        self._names: OrderedDict[int, str] = OrderedDict()

    # -- /import -----------------------------------------------------------------------

    @app_commands.command(
        name="import", description="Import a playlist from this server's catalog into your Spotify"
    )
    @app_commands.describe(
        playlist="A playlist from this server's catalog",
        follow="Keep your copy in step: songs added to the playlist later are added to it too",
    )
    @app_commands.autocomplete(playlist=ready_catalog_choices)
    @app_commands.guild_only()
    @app_commands.checks.dynamic_cooldown(import_cooldown)
    async def import_playlist(
        self, interaction: discord.Interaction, playlist: str, follow: bool = False
    ) -> None:
        """Refuse at once what the database tells; defer before posting and dispatching."""
        guild_id = require_guild(interaction)
        user = interaction.user
        self._remember(user)
        async with self.services.sessions.begin() as session:
            if await accounts.get_account(session, user.id) is None:
                raise errors.LinkRequired(render.import_needs_link())
            entry = await lookup_entry(session, guild_id, playlist)
            require_ready(entry)
            await refuse_duplicate(session, user.id, entry)
        await interaction.response.defer(ephemeral=True, thinking=True)
        name = render.playlist_title(entry)
        async with self.services.sessions.begin() as session:
            await refuse_duplicate(session, user.id, entry)  # a double submit lands here
            try:
                imp = await imports.create_import_with_ledger(
                    session,
                    guild_id=guild_id,
                    discord_user_id=user.id,
                    catalog_playlist_id=entry.id,
                    channel_id=interaction.channel_id or 0,
                    follow=follow,
                )
            except PlaylistNotFound as exc:  # unshared meanwhile
                raise errors.CatalogEntryNotFound(render.PICK_FROM_LIST) from exc
            except PlaylistNotReady as exc:  # being re-read meanwhile
                raise errors.NotImportable(render.not_importable(entry)) from exc
            except ActiveImportExists as exc:  # a simultaneous click won (the unique index)
                raise errors.AlreadyImporting(render.already_importing(name)) from exc
            total = (await imports.counts_by_state(session, imp.id)).total
            import_id, channel_id = imp.id, imp.channel_id
        embed = import_progress.queued(progress_view(import_id, user.id, name, total))
        url = await self._start(guild_id, import_id, channel_id, user.id, name, embed)
        await interaction.edit_original_response(content=render.import_ack(name, url))

    # -- /imports ----------------------------------------------------------------------

    @app_commands.command(name="imports", description="Your imports in this server and their state")
    @app_commands.describe(import_="One import: list the tracks it did not add, and why")
    @app_commands.rename(import_="import")
    @app_commands.guild_only()
    async def list_imports(
        self, interaction: discord.Interaction, import_: str | None = None
    ) -> None:
        """Private, newest first, five per page; pages are re-read on every press. With an
        import, its not-imported tracks, fifteen per page."""
        guild_id = require_guild(interaction)
        load = imports_loader(self.services, interaction.user.id, guild_id)
        if import_ is not None:
            async with self.services.sessions.begin() as session:
                imp = await lookup_import(
                    session, guild_id, interaction.user.id, import_, ACTIVE + FINISHED
                )
            load = not_imported_loader(self.services, imp)
        embed, page = await load(0)
        if page.total == 0:
            await interaction.response.send_message(render.NO_IMPORTS, ephemeral=True)
            return
        if page.count <= 1:
            await interaction.response.send_message(embed=embed, ephemeral=True)
            return
        pager = Pager(
            area="imports",
            owner=interaction.user,
            load=load,
            page=page,
            timeout=self.bot.pager_timeout,
        )
        await interaction.response.send_message(embed=embed, view=pager, ephemeral=True)
        pager.attach(interaction)

    @list_imports.autocomplete("import_")
    async def list_imports_choices(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        """The member's imports here, newest first."""
        return await self._import_choices(interaction, current, ACTIVE + FINISHED, lambda imp: True)

    # -- /cancel -----------------------------------------------------------------------

    @app_commands.command(name="cancel", description="Stop an import that is still running")
    @app_commands.describe(import_="An import that is still queued, running or paused")
    @app_commands.rename(import_="import")
    @app_commands.guild_only()
    async def cancel(self, interaction: discord.Interaction, import_: str) -> None:
        """One conditional update decides; the engine and the progress message follow."""
        guild_id = require_guild(interaction)
        async with self.services.sessions.begin() as session:
            imp = await lookup_import(session, guild_id, interaction.user.id, import_, ACTIVE)
            require_owner_or_manager(interaction, imp, "cancel")
        if imp.status.is_terminal:
            raise errors.ImportFinished(render.already_finished(imp))
        await interaction.response.defer(ephemeral=True, thinking=True)
        async with self.services.sessions.begin() as session:
            if not await imports.cancel_import(session, imp.id):  # it finished meanwhile
                imp = await imports.get_import(session, imp.id) or imp
                raise errors.ImportFinished(render.already_finished(imp))
            await imports.counts_by_state(session, imp.id)
            imp = await imports.get_import(session, imp.id) or imp
        await self._cancel_run(imp)
        await self._edit_progress(
            guild_id, imp, _cancelled_summary(imp, interaction.user.id, discord.utils.utcnow())
        )
        await interaction.edit_original_response(content=render.cancelled(imp))

    @cancel.autocomplete("import_")
    async def cancel_choices(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        """The member's unfinished imports here (managers may also type any import's id)."""
        return await self._import_choices(interaction, current, ACTIVE, lambda imp: True)

    async def _cancel_run(self, imp: Import) -> None:
        """Tell the engine; the workflow also checks the status at every step boundary."""
        if imp.workflow_run_id is None:
            log.info("import %s has no run recorded yet; it stops at its first step", imp.id)
            return
        try:
            await self.services.dispatcher.cancel_run(imp.workflow_run_id)
        except Exception:
            log.warning(
                "engine did not take the cancel of run %s (import %s); the workflow stops "
                "at its next step boundary anyway",
                imp.workflow_run_id,
                imp.id,
                exc_info=True,
            )

    # -- /retry ------------------------------------------------------------------------

    @app_commands.command(name="retry", description="Try again the tracks an import didn't add")
    @app_commands.describe(import_="A finished import with tracks that weren't added")
    @app_commands.rename(import_="import")
    @app_commands.guild_only()
    async def retry(self, interaction: discord.Interaction, import_: str) -> None:
        """Requeue only what is not added, then run the same import again."""
        guild_id = require_guild(interaction)
        async with self.services.sessions.begin() as session:
            imp = await lookup_import(session, guild_id, interaction.user.id, import_, FINISHED)
            require_may_retry(interaction, imp)
        if not imp.status.is_terminal:
            raise errors.ImportStillRunning(render.still_running(imp))
        if imp.ledger_pruned_at is not None:
            raise errors.TooOldToRetry(render.too_old_to_retry(imp))
        await interaction.response.defer(ephemeral=True, thinking=True)
        async with self.services.sessions.begin() as session:
            counts = await imports.counts_by_state(session, imp.id)
            if counts.outstanding + counts.failed + counts.not_found == 0:
                raise errors.NothingToRetry(render.nothing_to_retry(imp))
            try:
                await imports.reset_unadded_for_retry(session, imp.id)
            except ImportNotRetryable as exc:  # another /retry won the race
                imp = await imports.get_import(session, imp.id) or imp
                raise errors.ImportStillRunning(render.still_running(imp)) from exc
            except ImportNotFound as exc:
                raise errors.ImportNotFound(render.PICK_IMPORT) from exc
            except ImportLedgerPruned as exc:  # the retention sweep got there first
                raise errors.TooOldToRetry(render.too_old_to_retry(imp)) from exc
            counts = await imports.counts_by_state(session, imp.id)
            owner, name, channel_id = (
                imp.discord_user_id,
                import_progress.title(imp),
                imp.channel_id,
            )
        embed = import_progress.queued(
            progress_view(imp.id, owner, name, counts.total), retrying=counts.outstanding
        )
        url = await self._start(guild_id, imp.id, channel_id, owner, name, embed)
        await interaction.edit_original_response(
            content=render.retry_ack(name, counts.outstanding, url)
        )

    @retry.autocomplete("import_")
    async def retry_choices(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        """The member's finished imports that left tracks out (not others' cancelled ones)."""

        def retryable(imp: Import) -> bool:
            mine = imp.discord_user_id == interaction.user.id
            kept = imp.ledger_pruned_at is None
            return kept and has_unadded(imp) and (mine or imp.status is not ImportStatus.CANCELLED)

        return await self._import_choices(interaction, current, FINISHED, retryable)

    # -- shared steps --------------------------------------------------------------------

    async def _start(
        self,
        guild_id: int,
        import_id: int,
        channel_id: int,
        owner_id: int,
        name: str,
        embed: discord.Embed,
    ) -> str | None:
        """Post the progress message, record it, start the run, record the run.

        Returns the message's link, or None when the channel refused the post. If the run
        cannot be started the import is marked failed and the message says so.
        """
        progress = await self._post_progress(guild_id, channel_id, embed)
        if progress is not None:
            async with self.services.sessions.begin() as session:
                await imports.set_message_id(session, import_id, progress.id)
        payload = ImportInput(import_id=import_id, discord_user_id=owner_id)
        try:
            run_id = await self.services.dispatcher.import_playlist(payload, guild_id=guild_id)
        except Exception:
            async with self.services.sessions.begin() as session:
                await imports.finish_import(
                    session, import_id, ImportStatus.FAILED, error=NOT_STARTED
                )
            if progress is not None:
                try:
                    await progress.edit(
                        embed=import_progress.not_started(
                            progress_view(import_id, owner_id, name, 0)
                        ),
                        allowed_mentions=NO_MENTIONS,
                    )
                except discord.HTTPException as exc:
                    log.info("cannot update import progress message: %s", exc)
            raise
        async with self.services.sessions.begin() as session:
            await imports.set_workflow_run_id(session, import_id, run_id)
        log.info("import %s started as run %s", import_id, run_id)
        if progress is None:
            return None
        return render.jump_url(guild_id, channel_id, progress.id)

    async def _post_progress(
        self, guild_id: int, channel_id: int, embed: discord.Embed
    ) -> discord.Message | None:
        """The public message the workflow edits; a channel we can't post in is no failure."""
        channel = self.bot.get_partial_messageable(channel_id, guild_id=guild_id)
        try:
            return await channel.send(embed=embed, allowed_mentions=NO_MENTIONS)
        except discord.HTTPException as exc:
            log.info("cannot post import progress in channel %s: %s", channel_id, exc)
            return None

    async def _edit_progress(self, guild_id: int, imp: Import, embed: discord.Embed) -> None:
        """Edit the import's public message in place; a deleted one is not an error."""
        if imp.message_id is None:
            return
        channel = self.bot.get_partial_messageable(imp.channel_id, guild_id=guild_id)
        try:
            await channel.get_partial_message(imp.message_id).edit(
                embed=embed, allowed_mentions=NO_MENTIONS
            )
        except discord.HTTPException as exc:
            log.info("cannot update progress message of import %s: %s", imp.id, exc)

    async def _import_choices(
        self,
        interaction: discord.Interaction,
        current: str,
        statuses: Collection[ImportStatus],
        keep: Callable[[Import], bool],
    ) -> list[app_commands.Choice[str]]:
        """The member's imports in these statuses matching the text, at most 25.

        A member with Manage Server who types an import's id (shown on its progress
        message) also gets that import, labelled with its owner's name when known.
        """
        guild_id = interaction.guild_id
        if guild_id is None:
            return []
        self._remember(interaction.user)
        text = option_text(current)[:100]
        folded = text.casefold()
        typed_id = id_in(text if text.startswith("#") else f"#{text}")  # "#12" or "12"
        choices: list[app_commands.Choice[str]] = []
        async with self.services.sessions.begin() as session:
            if interaction.permissions.manage_guild and typed_id:
                other = await imports.get_import(session, typed_id)
                if (
                    other is not None
                    and other.guild_id == guild_id
                    and other.discord_user_id != interaction.user.id
                    and other.status in statuses
                    and keep(other)
                ):
                    owner = await self._owner_name(session, other.discord_user_id)
                    label = render.import_choice_name(other, owner)
                    choices.append(app_commands.Choice(name=label, value=option_id(other.id)))
            mine = await imports.list_user_imports(
                session,
                interaction.user.id,
                guild_id=guild_id,
                statuses=statuses,
                limit=IMPORTS_LISTED,
            )
        for imp in mine:
            if keep(imp) and (folded in imp.playlist_name.casefold() or typed_id == imp.id):
                label = render.import_choice_name(imp)
                choices.append(app_commands.Choice(name=label, value=option_id(imp.id)))
        return choices[:25]

    async def _owner_name(self, session: AsyncSession, user_id: int) -> str:
        """A member's name as we last saw it, else their Spotify name, else their id."""
        seen = self._names.get(user_id)
        if seen is not None:
            return seen
        account = await accounts.get_account(session, user_id)
        if account is not None and account.display_name:
            return account.display_name
        return f"member {user_id}"

    def _remember(self, user: discord.abc.User) -> None:
        self._names[user.id] = user.display_name
        self._names.move_to_end(user.id)
        while len(self._names) > _NAME_MEMORY:
            self._names.popitem(last=False)


def _cancelled_summary(imp: Import, cancelled_by: int, at: datetime) -> discord.Embed:
    """The cancelled state as /cancel writes it (the worker writes it with the same builder)."""
    view = import_progress.view_of(imp, at)
    return import_progress.finished(
        view, import_progress.Outcome.CANCELLED, cancelled_by=cancelled_by
    ).embed


async def setup(bot: commands.Bot) -> None:
    """Extension entry point."""
    assert isinstance(bot, MixtapeBot)
    await bot.add_cog(Imports(bot))
