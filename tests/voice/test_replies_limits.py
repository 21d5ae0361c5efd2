"""Every embed, reply and autocomplete label the bot renders stays inside Discord's limits.

Whatever text members and Spotify put in names, descriptions and errors, the output goes
through the fake Discord's own checks (`fakes.discord_forms`): a body Discord would answer
400 50035 fails here, naming the field as Discord would.
"""

from __future__ import annotations

from datetime import UTC, datetime

import discord
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fakes.discord_forms import check_autocomplete, check_message_body
from storage.enums import ImportStatus, PlaylistStatus
from storage.models import CatalogPlaylist, CatalogTrack, Import, LinkWaitlistEntry
from voice import import_progress, share_progress
from voice import replies as render

# Any text, and text made of what escaping lengthens (markdown, mentions) or blanks out.
TEXT = st.text(max_size=3000) | st.text(alphabet="*_\\`~|<@#>[]()\n \u200b\x1c", max_size=3000)
NUMBER = st.integers(0, 10**12)
WHEN = st.just(datetime(2026, 1, 1, tzinfo=UTC))
PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))

ENTRY = st.builds(
    CatalogPlaylist,
    id=NUMBER,
    name=TEXT,
    provider_playlist_id=TEXT,
    status=st.sampled_from(PlaylistStatus),
    owner_discord_user_id=NUMBER,
    owner_display_name=st.none() | TEXT,
    track_count=NUMBER,
    total_duration_ms=NUMBER,
    description=st.none() | TEXT,
    url=TEXT,
)
IMPORT = st.builds(
    Import,
    id=NUMBER,
    playlist_name=TEXT,
    catalog_playlist_id=st.none() | NUMBER,
    status=st.sampled_from(ImportStatus),
    resume_at=st.none() | WHEN,
    added=NUMBER,
    already_present=NUMBER,
    not_found=NUMBER,
    failed=NUMBER,
    total=NUMBER,
    error=st.none() | TEXT,
    created_at=WHEN,
    target_playlist_url=st.none() | TEXT,
    channel_id=NUMBER,
    message_id=st.none() | NUMBER,
)
TRACK = st.builds(
    CatalogTrack,
    position=NUMBER,
    title=TEXT,
    artists=st.lists(TEXT, max_size=5),
    duration_ms=NUMBER,
)
WAITING = st.builds(
    LinkWaitlistEntry,
    discord_user_id=NUMBER,
    display_name=st.none() | TEXT,
    attempts=NUMBER,
    first_refused_at=WHEN,
    last_refused_at=WHEN,
)
PAGE = st.builds(render.PageInfo, index=NUMBER, count=NUMBER, total=NUMBER)


def accepted(*embeds: discord.Embed) -> None:
    check_message_body({"embeds": [embed.to_dict() for embed in embeds]})


def sendable(*contents: str) -> None:
    for content in contents:
        check_message_body({"content": content})


def choosable(names: list[str]) -> None:
    check_autocomplete({"choices": [{"name": name, "value": "#1"} for name in names]})


@PROPERTY
@given(TEXT, st.lists(WAITING, max_size=25), NUMBER, NUMBER, st.none() | TEXT)
def test_errors_and_accounts(
    message: str, waiting: list[LinkWaitlistEntry], total: int, ttl: int, linked: str | None
) -> None:
    accepted(render.error_embed(message))
    accepted(render.waitlist_embed(waiting, total))
    accepted(render.link_embed(ttl, linked))


@PROPERTY
@given(TEXT, NUMBER, st.none() | TEXT)
def test_shares_and_replies(name: str, user_id: int, url: str | None) -> None:
    when = datetime(2026, 1, 1, tzinfo=UTC)
    accepted(
        share_progress.started(name, user_id, when), share_progress.not_started(name, user_id, when)
    )
    sendable(
        render.share_ack(name, url),
        render.import_ack(name, url),
        render.retry_ack(name, user_id, url),
        render.unshared(name),
        render.unshare_refused(name),
        render.unshare_kept(name),
        render.already_unshared(name),
        render.not_your_playlist(name),
        render.only_invoker_can_answer(name),
        render.only_invoker_can_page(name),
        render.no_entry_named(name),
        render.no_import_named(name),
        render.catalog_empty(name),
        render.already_importing(name),
        render.import_action_refused(name, "cancel"),
    )


@PROPERTY
@given(
    st.lists(ENTRY, min_size=1, max_size=5),
    PAGE,
    st.none() | TEXT,
    st.lists(TRACK, max_size=15),
    TEXT,
)
def test_catalog(
    entries: list[CatalogPlaylist],
    page: render.PageInfo,
    query: str | None,
    tracks: list[CatalogTrack],
    typed: str,
) -> None:
    accepted(render.catalog_page(entries, page, query))
    accepted(render.tracks_page(entries[0], tracks, page))
    prompt = render.unshare_prompt(entries[0])
    sendable(prompt, render.unshare_expired(prompt), render.not_importable(entries[0]))
    sendable(render.entries_named_close(typed, entries), render.entries_named_alike(typed, entries))
    choosable([render.choice_name(entry) for entry in entries])


@PROPERTY
@given(
    st.lists(IMPORT, min_size=1, max_size=5),
    PAGE,
    NUMBER,
    TEXT,
    st.none() | NUMBER,
    st.none() | TEXT,
)
def test_imports(
    imports: list[Import],
    page: render.PageInfo,
    some_id: int,
    name: str,
    retrying: int | None,
    owner: str | None,
) -> None:
    accepted(render.imports_page(imports, page, some_id, capped=True))
    when = datetime(2026, 1, 1, tzinfo=UTC)
    view = import_progress.View(
        import_id=some_id, owner_id=some_id, name=name, total=some_id, at=when
    )
    accepted(import_progress.queued(view, retrying=retrying))
    accepted(import_progress.not_started(view))
    for imp in imports:
        cancelled = import_progress.finished(
            import_progress.view_of(imp, when), import_progress.Outcome.CANCELLED, cancelled_by=1
        )
        accepted(cancelled.embed)
        accepted(render.not_imported_page(imp, [], page, {"local file": some_id}))
        sendable(render.already_finished(imp))
    sendable(render.imports_named_close(name, imports), render.imports_named_alike(name, imports))
    choosable([render.import_choice_name(imp, owner) for imp in imports])
