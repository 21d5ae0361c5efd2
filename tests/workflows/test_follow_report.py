"""The follow report's loop against the fake Discord with the real discord.py HTTP client:
it edits the change's message only when the counts moved, sleeps the same pauses every
run, and stops before the message is too old to edit, saying what is still on its way.
The imports' statuses and the clock are handed in, so nothing here waits for real."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import discord
import pytest

from fakes.discord_api import FakeDiscord
from fakes.interactions import discord_api_base
from storage.enums import ImportStatus
from workflows.follow_report import (
    EDIT_WINDOW,
    ReportInput,
    Tally,
    keep_count,
    pauses,
    tally,
)
from workflows.progress import ChannelProgress


@pytest.fixture
async def http() -> AsyncIterator[tuple[FakeDiscord, discord.http.HTTPClient]]:
    with FakeDiscord() as fake, discord_api_base(fake.api_base):
        client = discord.http.HTTPClient(asyncio.get_running_loop())
        await client.static_login(fake.token)
        try:
            yield fake, client
        finally:
            await client.close()


class World:
    """A posted change message, a clock the sleeps move, and the statuses to read."""

    def __init__(self, fake: FakeDiscord, client: discord.http.HTTPClient, message_id: int):
        self.fake = fake
        self.sender = ChannelProgress(client, fake.channel_id, message_id, interval=0)
        self.input = ReportInput(
            catalog_playlist_id=7,
            sharer_discord_user_id=2,
            channel_id=fake.channel_id,
            message_id=message_id,
            name="Late Night Drive",
            owner="Ada",
            url="https://open.spotify.com/playlist/x",
            track_count=22,
            duration_ms=60_000,
            skipped={},
            added=3,
            removed=1,
            moved=0,
            import_ids=[11, 12, 13],
        )
        self.at = discord.utils.snowflake_time(message_id)
        self.slept: list[timedelta] = []
        self.reads: list[Tally] = []

    def now(self) -> datetime:
        return self.at

    async def sleep(self, pause: timedelta) -> None:
        self.slept.append(pause)
        self.at += pause

    async def read(self) -> Tally | None:
        return self.reads.pop(0) if len(self.reads) > 1 else self.reads[0]

    async def run(self) -> Tally:
        return await keep_count(self.input, self.sender, self.read, self.sleep, self.now)

    def said(self) -> list[str]:
        """The Updated field of each edit (the create is the share's own summary)."""
        versions = self.fake.history(self.fake.channel_id, self.input.message_id)[1:]
        return [
            next(f["value"] for f in v.message["embeds"][0]["fields"] if f["name"] == "Updated")
            for v in versions
        ]


@pytest.fixture
async def world(http: tuple[FakeDiscord, discord.http.HTTPClient]) -> World:
    fake, client = http
    params = discord.http.handle_message_parameters(content="+3 \u22121 songs")
    posted = await client.send_message(fake.channel_id, params=params)
    return World(fake, client, int(posted["id"]))


async def test_the_message_is_edited_only_when_the_counts_move(world: World) -> None:
    world.reads = [
        Tally(waiting=3),  # nothing yet: the message already says so
        Tally(updated=1, waiting=2),
        Tally(updated=1, waiting=2),  # unchanged: no edit
        None,  # the database did not answer: as last seen
        Tally(updated=2, failed=1),
    ]

    final = await world.run()

    assert final == Tally(updated=2, failed=1)
    assert world.said() == [
        "+3 \u22121 songs; 1 of 3 followers' copies updated",
        "+3 \u22121 songs; 2 of 3 followers' copies updated, 1 could not be updated",
    ]
    assert world.slept == [timedelta(seconds=s) for s in (5, 5, 10, 10)]


async def test_all_updated_says_so_and_stops(world: World) -> None:
    world.reads = [Tally(updated=3)]

    assert await world.run() == Tally(updated=3)
    assert world.said() == ["+3 \u22121 songs; 3 followers' copies updated"]
    assert world.slept == []


async def test_it_stops_before_the_hour_saying_what_is_still_on_its_way(world: World) -> None:
    world.reads = [Tally(updated=1, waiting=2)]

    await world.run()

    assert world.said() == [
        "+3 \u22121 songs; 1 of 3 followers' copies updated",
        "+3 \u22121 songs; 1 of 3 followers' copies updated, 2 still on their way",
    ]
    waited = sum(world.slept, timedelta())
    assert EDIT_WINDOW - timedelta(minutes=1) <= waited < EDIT_WINDOW
    assert max(world.slept) == timedelta(seconds=60)


async def test_a_message_already_too_old_is_left_alone(world: World) -> None:
    world.at += EDIT_WINDOW
    world.reads = [Tally(updated=3)]

    await world.run()

    assert world.said() == []


async def test_a_deleted_message_ends_the_report(world: World) -> None:
    world.fake.delete_message(world.fake.channel_id, world.input.message_id)
    world.reads = [Tally(updated=1, waiting=2), Tally(updated=2, waiting=1)]

    await world.run()

    assert world.slept == [timedelta(seconds=5)]  # the next edit found it gone


def test_statuses_are_counted_and_a_lost_import_is_not_updated() -> None:
    statuses = {
        1: ImportStatus.COMPLETED,
        2: ImportStatus.FAILED,
        3: ImportStatus.CANCELLED,
        4: ImportStatus.RUNNING,
        5: ImportStatus.QUEUED,
        6: ImportStatus.PAUSED,
    }
    assert tally([1, 2, 3, 4, 5, 6, 7, 1], statuses) == Tally(updated=1, failed=3, waiting=3)


def test_the_pauses_grow_to_a_minute_and_are_the_same_every_run() -> None:
    first = [p for p, _ in zip(pauses(), range(12), strict=False)]
    assert first == [p for p, _ in zip(pauses(), range(12), strict=False)]
    assert first[0] == timedelta(seconds=5) and first[-1] == timedelta(seconds=60)
    assert first == sorted(first)
