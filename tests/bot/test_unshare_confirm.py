"""`/unshare` shows what it will remove and asks privately; only the confirm press removes."""

from __future__ import annotations

from typing import Any

import pytest
from hatchet_sdk import Hatchet

from bot.client import MixtapeBot
from bot.services import BotServices
from fakes.interactions import MANAGE_GUILD, InteractionDriver
from storage import catalog
from tests.bot.support import (
    Member,
    add_entry,
    button_ids,
    disabled_buttons,
    offline_hatchet,
    pick,
    reply_text,
    unshare_prompt,
)


@pytest.fixture
def dispatch_hatchet() -> Hatchet:
    """These tests dispatch no run: a client that never connects, so no engine starts."""
    return offline_hatchet()


async def entry_exists(services: BotServices, guild_id: int, entry_id: int) -> bool:
    async with services.sessions.begin() as session:
        return await catalog.get_guild_playlist(session, guild_id, entry_id) is not None


def no_buttons(message: dict[str, Any]) -> bool:
    return not button_ids(message)


async def test_the_prompt_says_what_goes_and_removes_nothing_yet(
    driver: InteractionDriver, services: BotServices, alice: Member, guild_id: int
) -> None:
    entry = await add_entry(services, guild_id, alice.id, "@everyone **Loud**", tracks=3)

    _, prompt = await unshare_prompt(driver, pick(entry))

    assert prompt["content"] == (
        f"Remove **@\u200beveryone \\*\\*Loud\\*\\*** (`#{entry}`, shared by <@{alice.id}>, "
        "3 tracks) from this server's catalog? Members' imports keep their history and their "
        "Spotify playlists."
    )
    assert disabled_buttons(prompt) == {"Remove": False, "Cancel": False}
    assert button_ids(prompt)["Remove"].startswith("mixtape:unshare:confirm:")
    assert await entry_exists(services, guild_id, entry)


async def test_cancel_keeps_the_entry_and_drops_the_buttons(
    driver: InteractionDriver, services: BotServices, alice: Member, guild_id: int
) -> None:
    entry = await add_entry(services, guild_id, alice.id, "Stays")
    handle, prompt = await unshare_prompt(driver, pick(entry))

    press = await driver.press(int(prompt["id"]), button_ids(prompt)["Cancel"])
    await press.response()

    final = await handle.original(until=no_buttons)
    assert final["content"] == "Kept **Stays** in this server's catalog: nothing was removed."
    assert await entry_exists(services, guild_id, entry)


async def test_confirm_removes_exactly_the_entry_shown(
    driver: InteractionDriver, services: BotServices, alice: Member, guild_id: int
) -> None:
    entry = await add_entry(services, guild_id, alice.id, "Goes")
    other = await add_entry(services, guild_id, alice.id, "Goes too far")
    handle, prompt = await unshare_prompt(driver, "goes")

    press = await driver.press(int(prompt["id"]), button_ids(prompt)["Remove"])
    await press.response()

    final = await handle.original(until=no_buttons)
    assert final["content"] == "Removed **Goes** from this server's catalog."
    assert not await entry_exists(services, guild_id, entry)
    assert await entry_exists(services, guild_id, other)


async def test_only_the_invoker_can_answer(
    driver: InteractionDriver,
    services: BotServices,
    alice: Member,
    bob: Member,
    guild_id: int,
) -> None:
    entry = await add_entry(services, guild_id, alice.id, "Alice's")
    handle, prompt = await unshare_prompt(driver, pick(entry))

    intruder = await (
        await driver.press(
            int(prompt["id"]),
            button_ids(prompt)["Remove"],
            user=bob.user,
            permissions=MANAGE_GUILD,
        )
    ).response()

    assert intruder.ephemeral and intruder.content == "Only alice can answer this."
    assert await entry_exists(services, guild_id, entry)
    assert disabled_buttons(await handle.original()) == {"Remove": False, "Cancel": False}


async def test_the_prompt_expires_with_its_buttons_disabled(
    bot: MixtapeBot,
    driver: InteractionDriver,
    services: BotServices,
    alice: Member,
    guild_id: int,
) -> None:
    cog = bot.get_cog("Share")  # loaded as an extension: a module object of its own
    assert cog is not None
    cog.confirm_timeout = 0.3  # type: ignore[attr-defined]
    entry = await add_entry(services, guild_id, alice.id, "Waiting")

    handle, _ = await unshare_prompt(driver, pick(entry))

    expired = await handle.original(until=lambda m: all(disabled_buttons(m).values()))
    assert disabled_buttons(expired) == {"Remove": True, "Cancel": True}
    assert "No answer in time: nothing was removed." in expired["content"]
    assert await entry_exists(services, guild_id, entry)


async def test_confirming_an_entry_removed_meanwhile_says_so(
    driver: InteractionDriver, services: BotServices, alice: Member, guild_id: int
) -> None:
    entry = await add_entry(services, guild_id, alice.id, "Raced")
    handle, prompt = await unshare_prompt(driver, pick(entry))
    async with services.sessions.begin() as session:
        await catalog.delete_catalog_playlist(session, guild_id, entry)

    press = await driver.press(int(prompt["id"]), button_ids(prompt)["Remove"])
    await press.response()

    final = await handle.original(until=no_buttons)
    assert final["content"] == "**Raced** was already removed from this server's catalog."


async def test_a_manager_who_lost_the_right_before_confirming_is_refused(
    driver: InteractionDriver,
    services: BotServices,
    alice: Member,
    bob: Member,
    guild_id: int,
) -> None:
    entry = await add_entry(services, guild_id, alice.id, "Alice's")
    handle, prompt = await unshare_prompt(
        driver, pick(entry), user=bob.user, permissions=MANAGE_GUILD
    )

    press = await driver.press(int(prompt["id"]), button_ids(prompt)["Remove"], user=bob.user)
    refused = await press.response()

    assert refused.ephemeral
    assert "Only the member who shared **Alice's**" in reply_text(refused)
    assert await entry_exists(services, guild_id, entry)
    assert set(button_ids(await handle.original())) == {"Remove", "Cancel"}
