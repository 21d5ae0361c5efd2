"""An option names exactly one row, or nothing happens: ids are never read as names.

A picked suggestion submits `#<id>`; that is this guild's entry (or an import here) with
that id, or a private refusal. Any other text is a name: it acts only on a row called
exactly that (any case), else the member gets a short private list to pick from. The
first tests replay what issue 9 saw: `/unshare 1`, `/import 1` and `/cancel 1` acting on
"Best of 101s", "Club 11" and "Second 1".
"""

from __future__ import annotations

import re

import pytest
from hatchet_sdk import Hatchet

from bot.services import BotServices
from fakes.discord_api import FakeDiscord
from fakes.interactions import MANAGE_GUILD, InteractionDriver
from fakes.spotify import FakeSpotify
from storage import catalog
from storage.enums import ImportStatus, PlaylistStatus
from tests.bot.support import (
    Member,
    add_entry,
    add_import,
    button_ids,
    get_import,
    import_rows,
    link_directly,
    pick,
    reply_text,
    settled_runs,
    unshare_prompt,
)
from tests.bot.test_imports import run_to_answer

pytestmark = pytest.mark.engine


async def entry_names(services: BotServices, guild_id: int) -> list[str]:
    async with services.sessions.begin() as session:
        entries = await catalog.list_guild_catalog(session, guild_id, limit=100)
    return sorted(entry.name for entry in entries)


async def remove_entry(services: BotServices, guild_id: int, entry_id: int) -> None:
    async with services.sessions.begin() as session:
        assert await catalog.delete_catalog_playlist(session, guild_id, entry_id)


# -- what issue 9 saw -------------------------------------------------------------------------


async def test_unshare_of_a_gone_id_removes_nothing_and_a_digit_is_a_name(
    driver: InteractionDriver, services: BotServices, alice: Member, guild_id: int
) -> None:
    gone = await add_entry(services, guild_id, alice.id, "Gone")
    best = await add_entry(services, guild_id, alice.id, "Best of 101s")
    await remove_entry(services, guild_id, gone)

    by_id = await (await driver.slash("unshare", {"playlist": pick(gone)})).response()
    typed = await (await driver.slash("unshare", {"playlist": str(gone)})).response()

    assert by_id.ephemeral and "couldn't find that playlist" in reply_text(by_id)
    assert typed.ephemeral
    assert f"No playlist in this server's catalog is called “{gone}”" in reply_text(typed)
    assert f"`#{best}` **Best of 101s**" in reply_text(typed)  # offered, not removed
    assert button_ids(typed.data) == {}
    assert await entry_names(services, guild_id) == ["Best of 101s"]


async def test_import_of_an_unknown_id_imports_nothing(
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
    gone = await add_entry(services, guild_id, alice.id, "Gone", tracks=1)
    await add_entry(services, guild_id, alice.id, "Club 11", tracks=2)
    await remove_entry(services, guild_id, gone)

    by_id = await run_to_answer(driver, "import", {"playlist": pick(gone)})
    typed = await run_to_answer(driver, "import", {"playlist": str(gone)})

    assert "couldn't find that playlist" in by_id
    assert f"is called “{gone}”" in typed and "**Club 11**" in typed
    assert await import_rows(services) == []
    assert fake_discord.messages(channel_id, include_ephemeral=False) == []
    assert await settled_runs(bot_hatchet, services.dispatcher, guild_id) == []


async def test_cancel_of_an_unknown_id_cancels_nothing(
    driver: InteractionDriver,
    services: BotServices,
    alice: Member,
    bob: Member,
    guild_id: int,
    channel_id: int,
) -> None:
    theirs = await add_entry(services, guild_id + 1, bob.id, "Theirs", tracks=1)
    elsewhere = await add_import(services, guild_id + 1, bob.id, theirs, channel_id)
    mine = await add_entry(services, guild_id, alice.id, "Second 1", tracks=1)
    second = await add_import(services, guild_id, alice.id, mine, channel_id)

    by_id = await run_to_answer(
        driver, "cancel", {"import": pick(elsewhere)}, permissions=MANAGE_GUILD
    )
    typed = await run_to_answer(driver, "cancel", {"import": str(elsewhere)})

    assert "couldn't find that import in this server" in by_id
    assert f"is called “{elsewhere}”" in typed and f"`#{second}` **Second 1**" in typed
    assert (await get_import(services, second)).status is ImportStatus.QUEUED
    assert (await get_import(services, elsewhere)).status is ImportStatus.QUEUED


# -- ids ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    ["#0", "#99999999999999999999", "#" + "9" * 5000, "#00000000000000000000000000001"],
    ids=["zero", "past-bigint", "5000-digits", "zero-padded-past-19"],
)
async def test_ids_no_row_can_have_are_refused_privately(
    value: str, driver: InteractionDriver, services: BotServices, alice: Member, guild_id: int
) -> None:
    await add_entry(services, guild_id, alice.id, "Only one")

    for name, option, sub in (
        ("catalog", "playlist", "show"),
        ("unshare", "playlist", None),
        ("cancel", "import", None),
        ("retry", "import", None),
    ):
        reply = await (await driver.slash(name, {option: value}, subcommand=sub)).response()
        assert reply.ephemeral and "couldn't find that" in reply_text(reply), (name, reply)
    assert await entry_names(services, guild_id) == ["Only one"]


async def test_a_picked_id_is_that_entry_even_when_another_is_named_like_it(
    driver: InteractionDriver, services: BotServices, alice: Member, guild_id: int
) -> None:
    first = await add_entry(services, guild_id, alice.id, "Alpha", tracks=1)
    second = await add_entry(services, guild_id, alice.id, "Beta", tracks=1)
    await add_entry(services, guild_id, alice.id, f"#{first}", tracks=1)
    await add_entry(services, guild_id, alice.id, str(second), tracks=1)

    by_id = await (
        await driver.slash("catalog", {"playlist": pick(first)}, subcommand="show")
    ).original()
    by_digits = await (
        await driver.slash("catalog", {"playlist": str(second)}, subcommand="show")
    ).original()

    assert by_id["embeds"][0]["title"] == "Alpha"  # `#1` is an id, whatever is named so
    assert by_digits["embeds"][0]["title"] == str(second)  # bare digits are a name


async def test_autocomplete_values_are_marked_ids(
    driver: InteractionDriver,
    services: BotServices,
    alice: Member,
    guild_id: int,
    channel_id: int,
) -> None:
    entry = await add_entry(services, guild_id, alice.id, "Marked", tracks=1)
    imp = await add_import(services, guild_id, alice.id, entry, channel_id)

    for name, option, sub in (
        ("catalog", "playlist", "show"),
        ("unshare", "playlist", None),
        ("import", "playlist", None),
    ):
        reply = await (
            await driver.autocomplete(name, {option: "mark"}, focused=option, subcommand=sub)
        ).response()
        assert [c["value"] for c in reply.choices] == [pick(entry)], name
    cancel = await (
        await driver.autocomplete("cancel", {"import": "mark"}, focused="import")
    ).response()
    assert [c["value"] for c in cancel.choices] == [pick(imp)]
    assert all(re.fullmatch(r"#[0-9]+", c["value"]) for c in cancel.choices)


# -- names -------------------------------------------------------------------------------------


async def test_a_typed_name_matches_exactly_in_any_case(
    driver: InteractionDriver, services: BotServices, alice: Member, guild_id: int
) -> None:
    await add_entry(services, guild_id, alice.id, "Straße Songs", tracks=1)
    await add_entry(services, guild_id, alice.id, "Straße Songs II", tracks=1)

    message = await (
        await driver.slash("catalog", {"playlist": "  STRASSE songs "}, subcommand="show")
    ).original()

    assert message["embeds"][0]["title"] == "Straße Songs"


async def test_two_entries_with_one_name_are_listed_not_guessed(
    driver: InteractionDriver,
    services: BotServices,
    alice: Member,
    bob: Member,
    guild_id: int,
) -> None:
    first = await add_entry(services, guild_id, alice.id, "Twin", playlist_id="1" * 22)
    second = await add_entry(services, guild_id, bob.id, "twin", playlist_id="2" * 22)

    reply = await (
        await driver.slash("unshare", {"playlist": "TWIN"}, permissions=MANAGE_GUILD)
    ).response()

    text = reply_text(reply)
    assert reply.ephemeral and "Several playlists in this server's catalog are called" in text
    assert f"`#{first}` **Twin**" in text and f"`#{second}` **twin**" in text
    assert f"<@{alice.id}>" in text and f"<@{bob.id}>" in text
    assert button_ids(reply.data) == {}
    assert await entry_names(services, guild_id) == ["Twin", "twin"]


async def test_no_close_match_says_so(
    driver: InteractionDriver, services: BotServices, alice: Member, guild_id: int
) -> None:
    await add_entry(services, guild_id, alice.id, "Jazz")

    reply = await (
        await driver.slash("catalog", {"playlist": "polka **now**"}, subcommand="show")
    ).response()

    assert reply.ephemeral
    assert reply.embeds[0]["description"] == (
        "No playlist in this server's catalog is called “polka \\*\\*now\\*\\*”. "
        "Pick one from the list."
    )


async def test_a_typed_import_name_needs_to_be_exact(
    driver: InteractionDriver,
    services: BotServices,
    alice: Member,
    guild_id: int,
    channel_id: int,
) -> None:
    entry = await add_entry(services, guild_id, alice.id, "Night drive", tracks=1)
    imp = await add_import(services, guild_id, alice.id, entry, channel_id)

    partial = await run_to_answer(driver, "cancel", {"import": "night"})
    assert "No import of yours here is called “night”" in partial
    assert f"`#{imp}` **Night drive**" in partial
    assert (await get_import(services, imp)).status is ImportStatus.QUEUED

    exact = await run_to_answer(driver, "cancel", {"import": "NIGHT DRIVE"})
    assert "Cancelled the import of **Night drive**" in exact
    assert (await get_import(services, imp)).status is ImportStatus.CANCELLED


async def test_unshare_by_name_asks_before_removing(
    driver: InteractionDriver, services: BotServices, alice: Member, guild_id: int
) -> None:
    await add_entry(services, guild_id, alice.id, "Keep me")

    _, prompt = await unshare_prompt(driver, "keep me")

    assert set(button_ids(prompt)) == {"Remove", "Cancel"}
    assert await entry_names(services, guild_id) == ["Keep me"]


async def test_an_id_read_off_the_list_can_be_picked_in_autocomplete(
    driver: InteractionDriver, services: BotServices, alice: Member, guild_id: int
) -> None:
    entry = await add_entry(services, guild_id, alice.id, "Named #1 nothing alike", tracks=1)
    pending = await add_entry(
        services, guild_id, alice.id, "Not yet", status=PlaylistStatus.PENDING
    )

    shown = await (
        await driver.autocomplete("unshare", {"playlist": pick(entry)}, focused="playlist")
    ).response()
    not_ready = await (
        await driver.autocomplete("import", {"playlist": pick(pending)}, focused="playlist")
    ).response()

    # `#1` names the entry, and its name contains `#1` too: offered once.
    assert shown.choices == [{"name": "Named #1 nothing alike", "value": pick(entry)}]
    assert not_ready.choices == []
