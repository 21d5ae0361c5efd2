"""`/catalog browse`, `/catalog show` and the playlist autocomplete, per guild."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from hatchet_sdk import Hatchet

from bot.client import MixtapeBot
from bot.services import BotServices
from fakes.discord_api import FakeDiscord
from fakes.interactions import InteractionDriver
from storage import catalog
from storage.enums import PlaylistStatus
from tests.bot.support import (
    DEADLINE_SECONDS,
    Member,
    add_entry,
    assert_discord_limits,
    assert_no_mentions_allowed,
    button_ids,
    clickable_links,
    disabled_buttons,
    embed_text,
    offline_hatchet,
    pick,
    unshare_confirmed,
)


@pytest.fixture
def dispatch_hatchet() -> Hatchet:
    """These tests dispatch no run: a client that never connects, so no engine starts."""
    return offline_hatchet()


def field_names(message: dict[str, Any]) -> list[str]:
    return [field["name"] for field in message["embeds"][0]["fields"]]


async def browse(driver: InteractionDriver, **options: Any) -> Any:
    """Run /catalog browse and wait until the handler is done (its view is then live)."""
    handle = await driver.slash("catalog", options, subcommand="browse")
    reply = await handle.response()
    await handle.finished()
    return handle, reply


async def test_browse_pages_newest_first_and_only_the_invoker_pages(
    driver: InteractionDriver,
    fake_discord: FakeDiscord,
    services: BotServices,
    alice: Member,
    bob: Member,
    guild_id: int,
) -> None:
    for number in range(1, 13):
        await add_entry(services, guild_id, alice.id, f"Mix {number:02d}", tracks=number)
    started = time.monotonic()

    handle, reply = await browse(driver)

    assert reply.at - started < DEADLINE_SECONDS
    assert not reply.ephemeral  # public: others may look, only Alice may page
    assert_no_mentions_allowed(reply.data)
    message = await handle.original()
    assert field_names(message) == ["Mix 12", "Mix 11", "Mix 10", "Mix 09", "Mix 08"]
    assert message["embeds"][0]["footer"]["text"] == "Page 1 of 3 · 12 playlists"
    first = message["embeds"][0]["fields"][0]["value"]
    assert f"shared by <@{alice.id}>" in first and "12 tracks · 0:12:12" in first
    assert disabled_buttons(message) == {"Previous": True, "Next": False}
    buttons = button_ids(message)
    assert buttons["Next"].startswith("mixtape:catalog:next:")

    await (await driver.press(int(message["id"]), buttons["Next"])).response()
    page_two = await handle.original(until=lambda m: "Mix 07" in field_names(m))
    assert field_names(page_two) == ["Mix 07", "Mix 06", "Mix 05", "Mix 04", "Mix 03"]
    assert disabled_buttons(page_two) == {"Previous": False, "Next": False}

    intruder = await (
        await driver.press(int(message["id"]), buttons["Next"], user=bob.user)
    ).response()
    assert intruder.ephemeral and intruder.content is not None
    assert intruder.content.startswith("Only alice can page this")
    assert field_names(await handle.original())[0] == "Mix 07"  # unchanged

    await (await driver.press(int(message["id"]), buttons["Previous"])).response()
    back = await handle.original(until=lambda m: "Mix 12" in field_names(m))
    assert back["embeds"][0]["footer"]["text"] == "Page 1 of 3 · 12 playlists"


async def test_the_pager_disables_itself_on_timeout(
    bot: MixtapeBot,
    driver: InteractionDriver,
    services: BotServices,
    alice: Member,
    guild_id: int,
) -> None:
    bot.pager_timeout = 0.3
    for number in range(7):
        await add_entry(services, guild_id, alice.id, f"Mix {number}")

    handle, _ = await browse(driver)

    expired = await handle.original(until=lambda m: all(disabled_buttons(m).values()), within=5.0)
    assert disabled_buttons(expired) == {"Previous": True, "Next": True}
    assert len(field_names(expired)) == 5  # the page itself stays


async def test_query_filters_and_no_match_is_private(
    driver: InteractionDriver, services: BotServices, alice: Member, guild_id: int
) -> None:
    for name in ("Rock classics", "Jazz nights", "Punk ROCK", "Lo-fi"):
        await add_entry(services, guild_id, alice.id, name)

    handle, _ = await browse(driver, query="rock")

    message = await handle.original()
    assert sorted(field_names(message)) == ["Punk ROCK", "Rock classics"]
    assert message["embeds"][0]["title"] == "Catalog: “rock”"
    assert button_ids(message) == {}  # one page, no buttons

    _, none = await browse(driver, query="polka")
    assert none.ephemeral and none.content is not None and "matches “polka”" in none.content


async def test_empty_catalog_says_how_to_fill_it(driver: InteractionDriver) -> None:
    _, reply = await browse(driver)

    assert reply.ephemeral and reply.content is not None and "/share" in reply.content


async def test_show_lists_tracks_in_pages(
    driver: InteractionDriver, services: BotServices, alice: Member, guild_id: int
) -> None:
    entry = await add_entry(services, guild_id, alice.id, "Long one", tracks=20)

    handle = await driver.slash("catalog", {"playlist": pick(entry)}, subcommand="show")
    message = await handle.original()
    await handle.finished()  # the pager is registered once the handler returns

    embed = message["embeds"][0]
    assert embed["title"] == "Long one"
    lines = [line for line in embed["description"].splitlines() if line.startswith("`")]
    assert len(lines) == 15
    assert lines[0] == "`  1.` Song 1 — Artist 1 (1:01)"
    assert embed["footer"]["text"] == "Page 1 of 2 · 20 tracks"

    await (await driver.press(int(message["id"]), button_ids(message)["Next"])).response()
    second = await handle.original(until=lambda m: "Page 2" in m["embeds"][0]["footer"]["text"])
    lines = [ln for ln in second["embeds"][0]["description"].splitlines() if ln.startswith("`")]
    assert lines[0].startswith("` 16.` Song 16") and len(lines) == 5


async def test_show_of_a_pending_entry_says_so(
    driver: InteractionDriver, services: BotServices, alice: Member, guild_id: int
) -> None:
    entry = await add_entry(services, guild_id, alice.id, "Fresh", status=PlaylistStatus.PENDING)

    message = await (
        await driver.slash("catalog", {"playlist": pick(entry)}, subcommand="show")
    ).original()

    assert "No tracks yet: this playlist is waiting to be read." in embed_text(message["embeds"])


async def test_show_accepts_a_typed_name(
    driver: InteractionDriver, services: BotServices, alice: Member, guild_id: int
) -> None:
    await add_entry(services, guild_id, alice.id, "Sunday Morning", tracks=2)

    message = await (
        await driver.slash("catalog", {"playlist": "sunday morning"}, subcommand="show")
    ).original()

    assert message["embeds"][0]["title"] == "Sunday Morning"


async def test_autocomplete_offers_this_guild_only_at_most_25(
    driver: InteractionDriver, services: BotServices, alice: Member, guild_id: int
) -> None:
    for number in range(30):
        await add_entry(services, guild_id, alice.id, f"Here {number:02d}")
    await add_entry(services, guild_id, alice.id, "L" + "o" * 299)
    await add_entry(services, guild_id + 1, alice.id, "Here but elsewhere")
    started = time.monotonic()

    reply = await (
        await driver.autocomplete(
            "catalog", {"playlist": "here"}, focused="playlist", subcommand="show"
        )
    ).response()

    assert reply.at - started < DEADLINE_SECONDS
    assert reply.type == 8
    names = [choice["name"] for choice in reply.choices]
    assert len(names) == 25 and all(name.startswith("Here ") for name in names)
    assert all(re.fullmatch(r"#[0-9]+", choice["value"]) for choice in reply.choices)

    long_reply = await (
        await driver.autocomplete("unshare", {"playlist": "loo"}, focused="playlist")
    ).response()
    [choice] = long_reply.choices
    assert len(choice["name"]) == 100 and choice["name"].endswith("…")


async def test_other_servers_never_show(
    driver: InteractionDriver, services: BotServices, alice: Member, guild_id: int
) -> None:
    await add_entry(services, guild_id, alice.id, "Ours")
    theirs = await add_entry(services, guild_id + 1, alice.id, "Theirs", tracks=3)

    handle, _ = await browse(driver)
    assert field_names(await handle.original()) == ["Ours"]

    reply = await (
        await driver.slash("catalog", {"playlist": pick(theirs)}, subcommand="show")
    ).response()
    assert reply.ephemeral and "couldn't find that playlist" in embed_text(reply.embeds)

    choices = await (
        await driver.autocomplete(
            "catalog", {"playlist": "the"}, focused="playlist", subcommand="show"
        )
    ).response()
    assert choices.choices == []


async def test_hostile_and_long_names_are_escaped_and_cut(
    driver: InteractionDriver, services: BotServices, alice: Member, guild_id: int
) -> None:
    await add_entry(services, guild_id, alice.id, "@everyone **bold** <@123>")
    await add_entry(services, guild_id, alice.id, "N" * 300)

    handle, reply = await browse(driver)

    message = await handle.original()
    long_name, hostile = field_names(message)
    assert hostile == "@\u200beveryone \\*\\*bold\\*\\* <\u200b@123>"
    assert len(long_name) == 256 and long_name.endswith("…")
    assert_discord_limits(message["embeds"])
    assert_no_mentions_allowed(reply.data)
    assert message["mentions"] == [] and message["mention_everyone"] is False


async def test_urls_from_descriptions_and_display_names_are_shown_not_linked(
    driver: InteractionDriver, services: BotServices, alice: Member, guild_id: int
) -> None:
    entry = await add_entry(services, guild_id, alice.id, "Lure", tracks=1)
    async with services.sessions.begin() as session:
        await catalog.update_catalog_metadata(
            session,
            entry,
            name="Lure",
            description="Free Nitro: https://evil.example/nitro",
            owner_display_name="<https://evil.example/me>",
        )
        [stored] = await catalog.list_guild_catalog(session, guild_id)

    show = await (
        await driver.slash("catalog", {"playlist": pick(entry)}, subcommand="show")
    ).original()
    handle, reply = await browse(driver)
    listing = await handle.original()

    assert not reply.ephemeral  # both are public
    text = embed_text([*show["embeds"], *listing["embeds"]])
    assert "https:\u200b//evil.example/nitro" in text and "evil.example/me" in text
    assert clickable_links(text) == [f"<{stored.url}>"]  # only the playlist's own link


async def test_a_page_of_an_entry_unshared_meanwhile_is_explained(
    driver: InteractionDriver, services: BotServices, alice: Member, guild_id: int
) -> None:
    entry = await add_entry(services, guild_id, alice.id, "Going away", tracks=20)
    handle = await driver.slash("catalog", {"playlist": pick(entry)}, subcommand="show")
    message = await handle.original()
    await handle.finished()  # the pager is registered once the handler returns
    await unshare_confirmed(driver, pick(entry))

    reply = await (await driver.press(int(message["id"]), button_ids(message)["Next"])).response()

    assert reply.ephemeral and "couldn't find that playlist" in embed_text(reply.embeds)
