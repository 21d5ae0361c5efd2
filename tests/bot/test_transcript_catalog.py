"""What members see of the catalog and of a long summary, rendered and looked at once.

`/catalog browse` and `/catalog show` run through the real bot against the fake Discord,
and an import summary with a long not-imported list is posted as the worker posts it; each
channel is written as a transcript and opened in headless Chromium at a desktop and a phone
width. Screenshots stay in the test's tmp dir.
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.services import BotServices
from fakes.discord_api import FakeDiscord
from fakes.discord_messages import create_message
from fakes.interactions import InteractionDriver
from fakes.transcript import write_transcript
from fakes.transcript_browser import Look, look_at
from tests.bot.support import Member, add_entry, button_ids, pick
from voice import import_progress


async def _look(
    fake: FakeDiscord, channel_id: int, names: dict[int, str], path: Path
) -> list[Look]:
    """Write the channel's transcript and let the browser look at it (off the loop)."""
    await write_transcript(fake, channel_id, names, path)
    return await asyncio.to_thread(look_at, path, path.parent / "shots")


def _fits(looks: list[Look]) -> None:
    for look in looks:
        assert look.overflowing == [], (look.width, look.overflowing)
        assert look.page_width <= look.width, (look.width, look.page_width)


@pytest.mark.engine
async def test_catalog_pages_and_their_buttons_fit_a_phone(
    driver: InteractionDriver,
    fake_discord: FakeDiscord,
    services: BotServices,
    alice: Member,
    guild_id: int,
    channel_id: int,
    tmp_path: Path,
) -> None:
    for number in range(1, 13):
        await add_entry(services, guild_id, alice.id, f"Mix {number:02d}", tracks=number)
    long_name = "A playlist whose name goes on " + "and on " * 12
    entry = await add_entry(services, guild_id, alice.id, long_name, tracks=20)

    browse = await driver.slash("catalog", {}, subcommand="browse")
    await browse.response()
    await browse.finished()
    first = await browse.original()
    await (await driver.press(int(first["id"]), button_ids(first)["Next"])).response()
    await browse.original(until=lambda m: "Page 2" in m["embeds"][0]["footer"]["text"])
    show = await driver.slash("catalog", {"playlist": pick(entry)}, subcommand="show")
    await show.original()
    await show.finished()

    looks = await _look(fake_discord, channel_id, {alice.id: "alice"}, tmp_path / "catalog.html")

    _fits(looks)
    for look in looks:
        assert "Page 1 of 3 · 13 playlists" in look.text and "Page 2 of 3" in look.text
        assert "Previous" in look.text and "Next" in look.text
        assert "Page 1 of 2 · 20 tracks" in look.text and "Song 1 — Artist 1" in look.text
        assert "@alice" in look.text


async def test_a_summary_with_a_long_not_imported_list_fits_a_phone(
    fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    view = import_progress.View(
        import_id=9,
        owner_id=1,
        name="Late Night Drive",
        total=300,
        at=datetime(2026, 1, 1, tzinfo=UTC),
        added=240,
        not_found=45,
        failed=15,
        url="https://open.spotify.com/playlist/target",
    )
    missing = [
        import_progress.Missing(
            i, f"A rather long song title number {i} (Extended Remix)", (), "not found on Spotify"
        )
        for i in range(60)
    ]
    summary = import_progress.finished(view, import_progress.Outcome.COMPLETED, missing)
    embed = summary.embed
    channel = fake_discord.channel_id
    create_message(
        fake_discord,
        channel,
        {"embeds": [embed.to_dict()]},
        [],
        "POST /channels/{channel_id}/messages",
    )

    looks = await _look(fake_discord, channel, {}, tmp_path / "summary.html")

    _fits(looks)
    for look in looks:
        assert "Imported Late Night Drive" in look.text and "Not imported" in look.text
        assert re.search(r"and \d+ more \(attached\)", look.text)
