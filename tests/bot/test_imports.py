"""`/import`, `/imports`, `/cancel` and `/retry` through the real command tree, with runs
dispatched to (and cancelled on) the real engine, where `import-playlist` is registered
from its contract only: no worker runs, so the ledger moves only when a test moves it."""

from __future__ import annotations

import logging
import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hatchet_sdk import Hatchet
from hatchet_sdk.clients.rest.models.v1_task_status import V1TaskStatus

from bot.client import MixtapeBot
from bot.services import BotServices
from fakes.discord_api import FakeDiscord
from fakes.interactions import MANAGE_GUILD, MEMBER_PERMISSIONS, InteractionDriver
from fakes.spotify import FakeSpotify
from storage import catalog, imports
from storage.enums import ImportStatus, ItemState, PlaylistStatus
from tests.bot.support import (
    DEADLINE_SECONDS,
    Member,
    add_entry,
    add_import,
    assert_discord_limits,
    assert_no_mentions_allowed,
    button_ids,
    embed_text,
    get_import,
    import_rows,
    ledger,
    link_directly,
    pick,
    settled_runs,
    wait_for_run_status,
    wait_for_runs,
)
from tests.bot.test_share import done_thinking, original_text

pytestmark = pytest.mark.engine

MANAGER = MEMBER_PERMISSIONS | MANAGE_GUILD


def public(fake: FakeDiscord, channel_id: int) -> list[dict[str, Any]]:
    return fake.messages(channel_id, include_ephemeral=False)


def jump(guild_id: int, channel_id: int, message: dict[str, Any]) -> str:
    return f"https://discord.com/channels/{guild_id}/{channel_id}/{message['id']}"


async def start_import(driver: InteractionDriver, entry: int, **kwargs: Any) -> dict[str, Any]:
    """Run /import and return the finished ephemeral answer."""
    handle = await driver.slash("import", {"playlist": pick(entry)}, **kwargs)
    return await handle.original(until=done_thinking)


async def run_to_answer(
    driver: InteractionDriver, name: str, options: dict[str, Any], **kwargs: Any
) -> str:
    """Run a command that may refuse at once or defer, and return the text it ends with."""
    handle = await driver.slash(name, options, **kwargs)
    reply = await handle.response()
    assert reply.ephemeral
    if reply.type == 5:
        return original_text(await handle.original(until=done_thinking))
    return "\n".join([reply.content or "", embed_text(reply.embeds)])


async def progress(
    services: BotServices,
    import_id: int,
    *,
    added: tuple[int, ...] = (),
    present: tuple[int, ...] = (),
    failed_with_uri: tuple[int, ...] = (),
    failed: tuple[int, ...] = (),
    not_found: tuple[int, ...] = (),
    skipped: tuple[int, ...] = (),
    finish: ImportStatus | None = None,
    target_url: str | None = None,
) -> None:
    """Move the ledger as the workflow would, through the storage functions it uses."""
    async with services.sessions.begin() as session:
        if target_url is not None:
            await imports.set_target_playlist(session, import_id, "targetid", target_url)
        for position in (*added, *present, *failed_with_uri):
            await imports.mark_item_resolved(
                session, import_id, position, f"spotify:track:uri{position:018d}"
            )
        await imports.mark_items_added(session, import_id, added)
        await imports.mark_items_added(session, import_id, present, already_present=True)
        for position in (*failed_with_uri, *failed):
            await imports.mark_item_failed(session, import_id, position, "Spotify refused it")
        for position in not_found:
            await imports.mark_item_not_found(session, import_id, position, reason="no match")
        for position in skipped:
            await imports.mark_item_skipped(session, import_id, position, "unshared")
        await imports.counts_by_state(session, import_id)
        if finish is not None:
            await imports.finish_import(session, import_id, finish)


# -- /import ----------------------------------------------------------------------------------


async def test_import_acks_posts_records_the_ledger_and_dispatches_once(
    driver: InteractionDriver,
    fake_discord: FakeDiscord,
    fake_spotify: FakeSpotify,
    services: BotServices,
    bot_hatchet: Hatchet,
    alice: Member,
    bob: Member,
    guild_id: int,
    channel_id: int,
) -> None:
    await link_directly(services, fake_spotify, alice)
    entry = await add_entry(services, guild_id, bob.id, "Road trip", tracks=4)
    started = time.monotonic()

    handle = await driver.slash("import", {"playlist": pick(entry)})
    deferred = await handle.response()
    ack = await handle.original(until=done_thinking)

    assert deferred.at - started < DEADLINE_SECONDS
    assert deferred.ephemeral and deferred.type == 5
    [message] = public(fake_discord, channel_id)
    assert message["embeds"][0]["title"] == "Importing Road trip — queued"
    assert f"<@{alice.id}>" in message["embeds"][0]["description"]
    assert_no_mentions_allowed(fake_discord.history(channel_id, int(message["id"]))[0].body)
    assert message["mentions"] == [] and message["mention_everyone"] is False
    assert original_text(ack).strip() == (
        "Importing **Road trip** into your Spotify: progress is posted here: "
        + jump(guild_id, channel_id, message)
    )

    [imp] = await import_rows(services)
    assert (imp.guild_id, imp.discord_user_id, imp.catalog_playlist_id) == (
        guild_id,
        alice.id,
        entry,
    )
    assert (imp.status, imp.channel_id, imp.message_id) == (
        ImportStatus.QUEUED,
        channel_id,
        int(message["id"]),
    )
    assert (imp.playlist_name, imp.total) == ("Road trip", 4)
    async with services.sessions.begin() as session:
        tracks = await catalog.list_tracks(session, entry)
    rows = await ledger(services, imp.id)
    assert [(r.position, r.catalog_track_id, r.state) for r in rows] == [
        (t.position, t.id, ItemState.PENDING) for t in tracks
    ]
    assert [r.position for r in rows] == [0, 1, 2, 3]

    [run] = await wait_for_runs(bot_hatchet, guild_id, 1)
    assert run.workflow_run_external_id == imp.workflow_run_id
    assert run.additional_metadata is not None
    assert {k: v for k, v in run.additional_metadata.items() if k != "traceparent"} == {
        "guild_id": str(guild_id),
        "user_id": str(alice.id),
        "import_id": str(imp.id),
    }
    sent = run.input["input"]
    assert set(sent) == {"import_id", "discord_user_id"}
    assert sent["import_id"] == imp.id and int(sent["discord_user_id"]) == alice.id
    assert len(await settled_runs(bot_hatchet, services.dispatcher, guild_id)) == 1


async def test_import_without_a_linked_account_points_to_link(
    driver: InteractionDriver,
    fake_discord: FakeDiscord,
    fake_spotify: FakeSpotify,
    services: BotServices,
    bot_hatchet: Hatchet,
    alice: Member,
    carol: Member,
    guild_id: int,
    channel_id: int,
) -> None:
    entry = await add_entry(services, guild_id, alice.id, "Mix", tracks=2)
    started = time.monotonic()

    reply = await (
        await driver.slash("import", {"playlist": pick(entry)}, user=carol.user)
    ).response()

    assert reply.at - started < DEADLINE_SECONDS
    assert reply.ephemeral and "run `/link`" in embed_text(reply.embeds)
    assert fake_spotify.count() == 0  # the accounts table decides, not Spotify
    assert public(fake_discord, channel_id) == []
    assert await import_rows(services) == []
    assert await settled_runs(bot_hatchet, services.dispatcher, guild_id) == []


async def test_another_servers_entry_cannot_be_imported(
    driver: InteractionDriver,
    fake_discord: FakeDiscord,
    fake_spotify: FakeSpotify,
    services: BotServices,
    bot_hatchet: Hatchet,
    alice: Member,
    guild_id: int,
    channel_id: int,
) -> None:
    await link_directly(services, fake_spotify, alice)
    elsewhere = await add_entry(services, guild_id + 1, alice.id, "Elsewhere", tracks=3)

    reply = await (await driver.slash("import", {"playlist": pick(elsewhere)})).response()

    assert reply.ephemeral and "couldn't find that playlist" in embed_text(reply.embeds)
    assert public(fake_discord, channel_id) == []
    assert await import_rows(services) == []
    assert await settled_runs(bot_hatchet, services.dispatcher, guild_id) == []
    assert await settled_runs(bot_hatchet, services.dispatcher, guild_id + 1) == []


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (PlaylistStatus.PENDING, "isn't ready to import yet: it is waiting to be read"),
        (PlaylistStatus.READING, "isn't ready to import yet: it is being read"),
        (PlaylistStatus.FAILED, "can't be imported: it could not be read"),
    ],
)
async def test_an_entry_that_is_not_ready_is_refused(
    status: PlaylistStatus,
    expected: str,
    driver: InteractionDriver,
    fake_spotify: FakeSpotify,
    services: BotServices,
    bot_hatchet: Hatchet,
    alice: Member,
    guild_id: int,
) -> None:
    await link_directly(services, fake_spotify, alice)
    entry = await add_entry(services, guild_id, alice.id, "Fresh", tracks=2, status=status)

    reply = await (await driver.slash("import", {"playlist": pick(entry)})).response()

    assert reply.ephemeral and f"**Fresh** {expected}" in embed_text(reply.embeds)
    assert await import_rows(services) == []
    assert await settled_runs(bot_hatchet, services.dispatcher, guild_id) == []


async def test_a_second_import_of_the_same_playlist_is_refused_while_the_first_runs(
    driver: InteractionDriver,
    fake_discord: FakeDiscord,
    fake_spotify: FakeSpotify,
    services: BotServices,
    bot_hatchet: Hatchet,
    alice: Member,
    guild_id: int,
    channel_id: int,
) -> None:
    await link_directly(services, fake_spotify, alice)
    entry = await add_entry(services, guild_id, alice.id, "Twice", tracks=2)
    await start_import(driver, entry)

    reply = await (await driver.slash("import", {"playlist": "twice"})).response()

    assert reply.ephemeral
    assert "You're already importing **Twice** — see `/imports`" in embed_text(reply.embeds)
    assert len(await import_rows(services)) == 1
    assert len(public(fake_discord, channel_id)) == 1
    assert len(await settled_runs(bot_hatchet, services.dispatcher, guild_id)) == 1


async def test_after_an_import_finished_the_playlist_can_be_imported_again(
    driver: InteractionDriver,
    fake_spotify: FakeSpotify,
    services: BotServices,
    alice: Member,
    guild_id: int,
    channel_id: int,
) -> None:
    await link_directly(services, fake_spotify, alice)
    entry = await add_entry(services, guild_id, alice.id, "Again", tracks=1)
    first = await add_import(services, guild_id, alice.id, entry, channel_id)
    await progress(services, first, added=(0,), finish=ImportStatus.COMPLETED)

    ack = await start_import(driver, entry)

    assert "Importing **Again** into your Spotify" in original_text(ack)
    assert len(await import_rows(services)) == 2


async def test_import_autocomplete_offers_ready_entries_of_this_server_only(
    driver: InteractionDriver, services: BotServices, alice: Member, guild_id: int
) -> None:
    ready = await add_entry(services, guild_id, alice.id, "Ready one", tracks=1)
    await add_entry(services, guild_id, alice.id, "Pending one", status=PlaylistStatus.PENDING)
    await add_entry(services, guild_id, alice.id, "Broken one", status=PlaylistStatus.FAILED)
    await add_entry(services, guild_id + 1, alice.id, "Ready elsewhere one", tracks=1)
    started = time.monotonic()

    reply = await (
        await driver.autocomplete("import", {"playlist": "one"}, focused="playlist")
    ).response()

    assert reply.at - started < DEADLINE_SECONDS and reply.type == 8
    assert [choice["name"] for choice in reply.choices] == ["Ready one"]
    assert [choice["value"] for choice in reply.choices] == [pick(ready)]


async def test_a_dispatch_failure_marks_the_import_failed_and_gives_a_reference(
    driver: InteractionDriver,
    fake_discord: FakeDiscord,
    fake_spotify: FakeSpotify,
    services: BotServices,
    alice: Member,
    guild_id: int,
    channel_id: int,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await link_directly(services, fake_spotify, alice)
    entry = await add_entry(services, guild_id, alice.id, "Doomed", tracks=2)

    async def engine_down(*args: object, **kwargs: object) -> str:
        raise ConnectionError("engine unreachable")

    monkeypatch.setattr(services.dispatcher, "import_playlist", engine_down)
    with caplog.at_level(logging.ERROR, logger="bot.error_handler"):
        handle = await driver.slash("import", {"playlist": pick(entry)})
        answer = original_text(await handle.original(until=done_thinking))
        await handle.finished()

    match = re.search(r"reference `([0-9a-f]{8})`", answer)
    assert match is not None, answer
    assert any(
        match.group(1) in r.getMessage() and "import" in r.getMessage() for r in caplog.records
    )
    [imp] = await import_rows(services)
    assert (imp.status, imp.error, imp.workflow_run_id) == (
        ImportStatus.FAILED,
        "could not be started",
        None,
    )
    [message] = public(fake_discord, channel_id)
    assert message["embeds"][0]["title"] == "Couldn't import Doomed"
    assert imp.message_id == int(message["id"])


async def test_a_channel_the_bot_cannot_post_in_still_starts_the_import(
    driver: InteractionDriver,
    fake_discord: FakeDiscord,
    fake_spotify: FakeSpotify,
    services: BotServices,
    bot_hatchet: Hatchet,
    alice: Member,
    guild_id: int,
    channel_id: int,
) -> None:
    await link_directly(services, fake_spotify, alice)
    entry = await add_entry(services, guild_id, alice.id, "Quiet", tracks=1)
    fake_discord.deny_channel(channel_id, 50013)

    ack = await start_import(driver, entry)

    assert "I can't post in this channel, so follow it with `/imports`" in original_text(ack)
    [imp] = await import_rows(services)
    assert imp.message_id is None and imp.workflow_run_id is not None
    assert len(await wait_for_runs(bot_hatchet, guild_id, 1)) == 1


async def test_a_hostile_name_is_escaped_cut_before_the_state_and_pings_nobody(
    driver: InteractionDriver,
    fake_discord: FakeDiscord,
    fake_spotify: FakeSpotify,
    services: BotServices,
    alice: Member,
    guild_id: int,
    channel_id: int,
) -> None:
    await link_directly(services, fake_spotify, alice)
    name = "@everyone **bold** <@123> " + "y" * 300
    entry = await add_entry(services, guild_id, alice.id, name, tracks=1)

    ack = await start_import(driver, entry)

    [message] = public(fake_discord, channel_id)
    title = message["embeds"][0]["title"]
    assert title.startswith("Importing @\u200beveryone \\*\\*bold\\*\\* <\u200b@123> yyy")
    assert title.endswith("… — queued") and len(title) == 256
    assert_discord_limits(message["embeds"])
    assert message["mentions"] == [] and message["mention_everyone"] is False
    assert "@\u200beveryone" in original_text(ack)


# -- /imports ---------------------------------------------------------------------------------


async def test_imports_lists_state_and_counts_newest_first(
    driver: InteractionDriver,
    services: BotServices,
    alice: Member,
    bob: Member,
    guild_id: int,
    channel_id: int,
) -> None:
    done = await add_entry(services, guild_id, bob.id, "Done mix", tracks=4)
    waiting = await add_entry(services, guild_id, bob.id, "Waiting mix", tracks=2)
    fresh = await add_entry(services, guild_id, bob.id, "Fresh mix", tracks=3)
    elsewhere = await add_entry(services, guild_id + 1, bob.id, "Elsewhere", tracks=1)
    first = await add_import(services, guild_id, alice.id, done, channel_id)
    await progress(
        services,
        first,
        added=(0,),
        present=(1,),
        not_found=(2,),
        failed=(3,),
        finish=ImportStatus.COMPLETED,
        target_url="https://open.spotify.com/playlist/targetid",
    )
    second = await add_import(services, guild_id, alice.id, waiting, channel_id)
    await progress(services, second, added=(0,))
    resume_at = datetime.now(UTC) + timedelta(minutes=5)
    async with services.sessions.begin() as session:
        await imports.start_import(session, second)
        await imports.pause_import(session, second, resume_at)
    third = await add_import(services, guild_id, alice.id, fresh, channel_id)
    await add_import(services, guild_id, bob.id, fresh, channel_id)  # not Alice's
    await add_import(services, guild_id + 1, alice.id, elsewhere, channel_id)  # not here
    started = time.monotonic()

    reply = await (await driver.slash("imports")).response()

    assert reply.at - started < DEADLINE_SECONDS and reply.ephemeral
    [embed] = reply.embeds
    names = [field["name"] for field in embed["fields"]]
    assert names == [f"#{third} · Fresh mix", f"#{second} · Waiting mix", f"#{first} · Done mix"]
    values = [field["value"] for field in embed["fields"]]
    assert values[0].startswith(
        "**queued** · 0 added · 0 already there · 0 not found · 0 failed, of 3"
    )
    assert values[1].startswith(
        f"**paused until <t:{int(resume_at.timestamp())}:t>** · 1 added · 0 already there"
    )
    assert values[2].startswith(
        "**completed** · 1 added · 1 already there · 1 not found · 1 failed, of 4"
    )
    assert "[playlist](https://open.spotify.com/playlist/targetid)" in values[2]
    assert "[playlist]" not in values[0]
    assert embed["footer"]["text"] == "Page 1 of 1 · 3 imports"
    assert button_ids(reply.data) == {}
    assert_discord_limits(reply.embeds)


async def test_imports_pages_when_there_are_many(
    driver: InteractionDriver,
    services: BotServices,
    alice: Member,
    guild_id: int,
    channel_id: int,
) -> None:
    entry = await add_entry(services, guild_id, alice.id, "Often", tracks=1)
    ids: list[int] = []
    for _ in range(7):  # one active import per playlist: each ends before the next starts
        ids.append(await add_import(services, guild_id, alice.id, entry, channel_id))
        await progress(services, ids[-1], added=(0,), finish=ImportStatus.COMPLETED)

    handle = await driver.slash("imports")
    reply = await handle.response()
    await handle.finished()  # the pager is registered once the handler returns

    assert reply.ephemeral
    message = await handle.original()
    assert message["embeds"][0]["footer"]["text"] == "Page 1 of 2 · 7 imports"
    assert len(message["embeds"][0]["fields"]) == 5
    await (await driver.press(int(message["id"]), button_ids(message)["Next"])).response()
    second = await handle.original(until=lambda m: "Page 2" in m["embeds"][0]["footer"]["text"])
    assert [f["name"] for f in second["embeds"][0]["fields"]] == [
        f"#{ids[1]} · Often",
        f"#{ids[0]} · Often",
    ]


async def test_imports_with_none_says_how_to_start(driver: InteractionDriver) -> None:
    reply = await (await driver.slash("imports")).response()

    assert reply.ephemeral and reply.content is not None and "`/import`" in reply.content


# -- /cancel ----------------------------------------------------------------------------------


async def test_cancel_by_the_owner_stops_the_run_and_updates_the_message(
    driver: InteractionDriver,
    fake_discord: FakeDiscord,
    fake_spotify: FakeSpotify,
    services: BotServices,
    bot_hatchet: Hatchet,
    alice: Member,
    guild_id: int,
    channel_id: int,
) -> None:
    await link_directly(services, fake_spotify, alice)
    entry = await add_entry(services, guild_id, alice.id, "Stop me", tracks=3)
    await start_import(driver, entry)
    [imp] = await import_rows(services)
    assert imp.workflow_run_id is not None
    await progress(services, imp.id, added=(0,))
    started = time.monotonic()

    handle = await driver.slash("cancel", {"import": pick(imp.id)})
    deferred = await handle.response()
    ack = original_text(await handle.original(until=done_thinking))

    assert deferred.at - started < DEADLINE_SECONDS and deferred.ephemeral
    assert "Cancelled the import of **Stop me**" in ack
    cancelled = await get_import(services, imp.id)
    assert cancelled.status is ImportStatus.CANCELLED and cancelled.finished_at is not None
    [message] = public(fake_discord, channel_id)
    embed = message["embeds"][0]
    assert embed["title"] == "Import of Stop me cancelled"
    assert {f["name"]: f["value"] for f in embed["fields"]} == {
        "Added": "1",
        "Already there": "0",
        "Not found": "0",
        "Failed": "0",
    }
    assert "1 of 3 tracks" in embed["description"]
    edit = fake_discord.history(channel_id, int(message["id"]))[-1]
    assert_no_mentions_allowed(edit.body)
    await wait_for_run_status(bot_hatchet, imp.workflow_run_id, V1TaskStatus.CANCELLED)
    states = [row.state for row in await ledger(services, imp.id)]
    assert states == [ItemState.ADDED, ItemState.PENDING, ItemState.PENDING]  # untouched


async def test_cancel_by_a_stranger_is_refused(
    driver: InteractionDriver,
    fake_discord: FakeDiscord,
    fake_spotify: FakeSpotify,
    services: BotServices,
    bot_hatchet: Hatchet,
    alice: Member,
    bob: Member,
    guild_id: int,
    channel_id: int,
) -> None:
    await link_directly(services, fake_spotify, alice)
    entry = await add_entry(services, guild_id, alice.id, "Alice's", tracks=2)
    await start_import(driver, entry)
    [imp] = await import_rows(services)
    assert imp.workflow_run_id is not None

    reply = await (await driver.slash("cancel", {"import": pick(imp.id)}, user=bob.user)).response()

    assert reply.ephemeral
    assert "Only the member who started importing **Alice's**" in embed_text(reply.embeds)
    assert "can cancel it" in embed_text(reply.embeds)
    assert (await get_import(services, imp.id)).status is ImportStatus.QUEUED
    [message] = public(fake_discord, channel_id)
    assert len(fake_discord.history(channel_id, int(message["id"]))) == 1  # never edited
    assert await bot_hatchet.runs.aio_get_status(imp.workflow_run_id) == V1TaskStatus.QUEUED


async def test_cancel_by_a_manager_is_allowed_and_they_can_find_it_by_id(
    bot: MixtapeBot,
    driver: InteractionDriver,
    fake_discord: FakeDiscord,
    fake_spotify: FakeSpotify,
    services: BotServices,
    bot_hatchet: Hatchet,
    alice: Member,
    bob: Member,
    guild_id: int,
    channel_id: int,
) -> None:
    await link_directly(services, fake_spotify, alice)
    entry = await add_entry(services, guild_id, alice.id, "Too loud", tracks=2)
    await start_import(driver, entry)
    [imp] = await import_rows(services)
    assert imp.workflow_run_id is not None

    with InteractionDriver(
        bot,
        fake_discord,
        user=bob.user,
        guild_id=guild_id,
        channel_id=channel_id,
        permissions=MANAGER,
    ) as manager:
        choices = await (
            await manager.autocomplete("cancel", {"import": pick(imp.id)}, focused="import")
        ).response()
        assert choices.choices == [
            {"name": "Too loud · queued · 0/2 · alice", "value": pick(imp.id)}
        ]
        answer = await run_to_answer(manager, "cancel", {"import": pick(imp.id)})

    assert "Cancelled the import of **Too loud**" in answer
    assert (await get_import(services, imp.id)).status is ImportStatus.CANCELLED
    [message] = public(fake_discord, channel_id)
    assert f"Cancelled by <@{bob.id}>" in message["embeds"][0]["description"]
    await wait_for_run_status(bot_hatchet, imp.workflow_run_id, V1TaskStatus.CANCELLED)

    # An ordinary member typing someone else's id is offered nothing.
    plain = await (
        await driver.autocomplete(
            "cancel", {"import": pick(imp.id)}, focused="import", user=bob.user
        )
    ).response()
    assert plain.choices == []


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (ImportStatus.COMPLETED, "**Over** already finished (completed)"),
        (ImportStatus.FAILED, "**Over** already finished (failed)"),
        (ImportStatus.CANCELLED, "**Over** is already cancelled"),
    ],
)
async def test_cancel_of_a_finished_import_says_it_already_finished(
    status: ImportStatus,
    expected: str,
    driver: InteractionDriver,
    services: BotServices,
    alice: Member,
    guild_id: int,
    channel_id: int,
) -> None:
    entry = await add_entry(services, guild_id, alice.id, "Over", tracks=1)
    import_id = await add_import(services, guild_id, alice.id, entry, channel_id)
    await progress(services, import_id, added=(0,), finish=status)

    reply = await (await driver.slash("cancel", {"import": pick(import_id)})).response()

    assert reply.ephemeral
    assert expected in embed_text(reply.embeds)
    assert "there is nothing to cancel" in embed_text(reply.embeds)
    assert (await get_import(services, import_id)).status is status


async def test_cancel_with_a_deleted_progress_message_still_cancels(
    driver: InteractionDriver,
    fake_discord: FakeDiscord,
    fake_spotify: FakeSpotify,
    services: BotServices,
    bot_hatchet: Hatchet,
    alice: Member,
    guild_id: int,
    channel_id: int,
) -> None:
    await link_directly(services, fake_spotify, alice)
    entry = await add_entry(services, guild_id, alice.id, "Gone", tracks=1)
    await start_import(driver, entry)
    [imp] = await import_rows(services)
    assert imp.message_id is not None and imp.workflow_run_id is not None
    fake_discord.delete_message(channel_id, imp.message_id)

    answer = await run_to_answer(driver, "cancel", {"import": "gone"})

    assert "Cancelled the import of **Gone**" in answer
    assert (await get_import(services, imp.id)).status is ImportStatus.CANCELLED
    await wait_for_run_status(bot_hatchet, imp.workflow_run_id, V1TaskStatus.CANCELLED)


async def test_cancel_when_the_engine_refuses_still_cancels_in_the_ledger(
    driver: InteractionDriver,
    fake_spotify: FakeSpotify,
    services: BotServices,
    alice: Member,
    guild_id: int,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await link_directly(services, fake_spotify, alice)
    entry = await add_entry(services, guild_id, alice.id, "Stubborn", tracks=1)
    await start_import(driver, entry)
    [imp] = await import_rows(services)

    async def engine_down(run_id: str) -> None:
        raise ConnectionError("engine unreachable")

    monkeypatch.setattr(services.dispatcher, "cancel_run", engine_down)
    with caplog.at_level(logging.WARNING, logger="bot.exts.imports"):
        answer = await run_to_answer(driver, "cancel", {"import": pick(imp.id)})

    assert "Cancelled the import of **Stubborn**" in answer
    assert (await get_import(services, imp.id)).status is ImportStatus.CANCELLED
    assert any("did not take the cancel" in r.getMessage() for r in caplog.records)


async def test_cancel_autocomplete_lists_only_my_unfinished_imports_here(
    driver: InteractionDriver,
    services: BotServices,
    alice: Member,
    bob: Member,
    guild_id: int,
    channel_id: int,
) -> None:
    entry = await add_entry(services, guild_id, bob.id, "Night drive", tracks=2)
    finished = await add_import(services, guild_id, alice.id, entry, channel_id)
    await progress(services, finished, added=(0, 1), finish=ImportStatus.COMPLETED)
    mine = await add_import(services, guild_id, alice.id, entry, channel_id)
    await progress(services, mine, added=(0,))
    await add_import(services, guild_id, bob.id, entry, channel_id)
    other_entry = await add_entry(services, guild_id + 1, bob.id, "Night drive", tracks=1)
    await add_import(services, guild_id + 1, alice.id, other_entry, channel_id)

    reply = await (
        await driver.autocomplete("cancel", {"import": "night"}, focused="import")
    ).response()

    assert reply.choices == [{"name": "Night drive · queued · 1/2", "value": pick(mine)}]


# -- /retry -----------------------------------------------------------------------------------


async def test_retry_requeues_only_what_is_not_added_and_dispatches_again(
    driver: InteractionDriver,
    fake_discord: FakeDiscord,
    fake_spotify: FakeSpotify,
    services: BotServices,
    bot_hatchet: Hatchet,
    alice: Member,
    guild_id: int,
    channel_id: int,
) -> None:
    await link_directly(services, fake_spotify, alice)
    entry = await add_entry(services, guild_id, alice.id, "Patchy", tracks=6)
    await start_import(driver, entry)
    [imp] = await import_rows(services)
    first_run, first_message = imp.workflow_run_id, imp.message_id
    await progress(
        services,
        imp.id,
        added=(0,),
        present=(1,),
        failed_with_uri=(2,),
        failed=(3,),
        not_found=(4,),
        skipped=(5,),
        finish=ImportStatus.COMPLETED,
    )
    before = {row.position: row for row in await ledger(services, imp.id)}

    choices = await (
        await driver.autocomplete("retry", {"import": "pat"}, focused="import")
    ).response()
    assert [c["value"] for c in choices.choices] == [pick(imp.id)]
    answer = await run_to_answer(driver, "retry", {"import": pick(imp.id)})

    second_message, first_public = public(fake_discord, channel_id)[::-1]
    assert int(first_public["id"]) == first_message
    assert second_message["embeds"][0]["title"] == "Importing Patchy — queued"
    assert "retrying the 3 tracks not added yet, of 6" in second_message["embeds"][0]["description"]
    assert_no_mentions_allowed(fake_discord.history(channel_id, int(second_message["id"]))[0].body)
    assert answer.strip() == (
        "Retrying **Patchy**: 3 tracks not added yet will be tried again; progress is posted "
        "here: " + jump(guild_id, channel_id, second_message)
    )
    after = {row.position: row for row in await ledger(services, imp.id)}
    assert {p: row.state for p, row in after.items()} == {
        0: ItemState.ADDED,
        1: ItemState.ADDED,
        2: ItemState.RESOLVED,
        3: ItemState.PENDING,
        4: ItemState.PENDING,
        5: ItemState.SKIPPED,
    }
    for position in (0, 1, 5):  # nothing settled was touched
        assert after[position].updated_at == before[position].updated_at
        assert after[position].already_present == before[position].already_present
    assert after[2].resolved_uri == before[2].resolved_uri  # no new search needed
    requeued = await get_import(services, imp.id)
    assert requeued.status is ImportStatus.QUEUED
    assert requeued.message_id == int(second_message["id"])
    assert requeued.workflow_run_id not in (None, first_run)
    runs = await wait_for_runs(bot_hatchet, guild_id, 2)
    assert {run.workflow_run_external_id for run in runs} == {first_run, requeued.workflow_run_id}
    assert all(run.input["input"]["import_id"] == imp.id for run in runs)
    assert len(await settled_runs(bot_hatchet, services.dispatcher, guild_id)) == 2


async def test_retry_after_a_cancel_picks_up_the_rest(
    driver: InteractionDriver,
    fake_spotify: FakeSpotify,
    services: BotServices,
    bot_hatchet: Hatchet,
    alice: Member,
    guild_id: int,
) -> None:
    await link_directly(services, fake_spotify, alice)
    entry = await add_entry(services, guild_id, alice.id, "Halfway", tracks=4)
    await start_import(driver, entry)
    [imp] = await import_rows(services)
    await progress(services, imp.id, added=(0, 1))
    await run_to_answer(driver, "cancel", {"import": pick(imp.id)})

    answer = await run_to_answer(driver, "retry", {"import": "halfway"})

    assert "Retrying **Halfway**: 2 tracks not added yet" in answer
    assert (await get_import(services, imp.id)).status is ImportStatus.QUEUED
    assert len(await settled_runs(bot_hatchet, services.dispatcher, guild_id)) == 2


async def test_retry_permission_rule(
    bot: MixtapeBot,
    driver: InteractionDriver,
    fake_discord: FakeDiscord,
    services: BotServices,
    bot_hatchet: Hatchet,
    alice: Member,
    bob: Member,
    guild_id: int,
    channel_id: int,
) -> None:
    entry = await add_entry(services, guild_id, alice.id, "Alice's", tracks=2)
    import_id = await add_import(services, guild_id, alice.id, entry, channel_id)
    await progress(services, import_id, added=(0,), failed=(1,), finish=ImportStatus.COMPLETED)

    refused = await run_to_answer(driver, "retry", {"import": pick(import_id)}, user=bob.user)
    assert "Only the member who started importing **Alice's**" in refused
    assert "can retry it" in refused
    assert (await get_import(services, import_id)).status is ImportStatus.COMPLETED
    assert await settled_runs(bot_hatchet, services.dispatcher, guild_id) == []

    allowed = await run_to_answer(
        driver, "retry", {"import": pick(import_id)}, user=bob.user, permissions=MANAGER
    )
    assert "Retrying **Alice's**: 1 tracks not added yet" in allowed
    [run] = await settled_runs(bot_hatchet, services.dispatcher, guild_id)
    assert run.input["input"]["import_id"] == import_id
    assert int(run.input["input"]["discord_user_id"]) == alice.id  # the owner's Spotify
    assert run.additional_metadata is not None
    assert run.additional_metadata["user_id"] == str(alice.id)


async def test_a_cancelled_import_is_retried_only_by_its_owner(
    bot: MixtapeBot,
    driver: InteractionDriver,
    fake_discord: FakeDiscord,
    services: BotServices,
    bot_hatchet: Hatchet,
    alice: Member,
    bob: Member,
    guild_id: int,
    channel_id: int,
) -> None:
    entry = await add_entry(services, guild_id, alice.id, "Stopped", tracks=3)
    import_id = await add_import(services, guild_id, alice.id, entry, channel_id)
    await progress(services, import_id, added=(0,))
    await run_to_answer(driver, "cancel", {"import": pick(import_id)})

    with InteractionDriver(
        bot,
        fake_discord,
        user=bob.user,
        guild_id=guild_id,
        channel_id=channel_id,
        permissions=MANAGER,
    ) as manager:
        choices = await (
            await manager.autocomplete("retry", {"import": pick(import_id)}, focused="import")
        ).response()
        refused = await run_to_answer(manager, "retry", {"import": pick(import_id)})

    assert choices.choices == []
    assert refused.strip() == (
        "Only the member who started importing **Stopped** can retry it: they cancelled it."
    )
    assert (await get_import(services, import_id)).status is ImportStatus.CANCELLED
    assert await settled_runs(bot_hatchet, services.dispatcher, guild_id) == []
    allowed = await run_to_answer(driver, "retry", {"import": pick(import_id)})
    assert "Retrying **Stopped**: 2 tracks not added yet" in allowed


async def test_retry_with_nothing_left_says_so(
    driver: InteractionDriver,
    services: BotServices,
    bot_hatchet: Hatchet,
    alice: Member,
    guild_id: int,
    channel_id: int,
) -> None:
    entry = await add_entry(services, guild_id, alice.id, "Complete", tracks=3)
    import_id = await add_import(services, guild_id, alice.id, entry, channel_id)
    await progress(
        services,
        import_id,
        added=(0,),
        present=(1,),
        skipped=(2,),
        finish=ImportStatus.COMPLETED,
    )

    answer = await run_to_answer(driver, "retry", {"import": pick(import_id)})

    assert "Nothing left to retry in **Complete**" in answer
    assert (await get_import(services, import_id)).status is ImportStatus.COMPLETED
    assert await settled_runs(bot_hatchet, services.dispatcher, guild_id) == []
    choices = await (
        await driver.autocomplete("retry", {"import": "comp"}, focused="import")
    ).response()
    assert choices.choices == []


async def test_retry_of_a_running_import_is_refused(
    driver: InteractionDriver,
    services: BotServices,
    alice: Member,
    guild_id: int,
    channel_id: int,
) -> None:
    entry = await add_entry(services, guild_id, alice.id, "Busy", tracks=2)
    import_id = await add_import(services, guild_id, alice.id, entry, channel_id)
    async with services.sessions.begin() as session:
        await imports.start_import(session, import_id)

    answer = await run_to_answer(driver, "retry", {"import": pick(import_id)})

    assert "**Busy** is still running" in answer
    assert (await get_import(services, import_id)).status is ImportStatus.RUNNING


async def test_retry_cannot_reach_another_servers_import(
    driver: InteractionDriver,
    services: BotServices,
    alice: Member,
    guild_id: int,
    channel_id: int,
) -> None:
    entry = await add_entry(services, guild_id + 1, alice.id, "Elsewhere", tracks=1)
    import_id = await add_import(services, guild_id + 1, alice.id, entry, channel_id)
    await progress(services, import_id, failed=(0,), finish=ImportStatus.FAILED)

    answer = await run_to_answer(driver, "retry", {"import": pick(import_id)}, permissions=MANAGER)

    assert "couldn't find that import in this server" in answer
    assert (await get_import(services, import_id)).status is ImportStatus.FAILED
