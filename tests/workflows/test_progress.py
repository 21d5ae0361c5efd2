"""The progress editor against the fake Discord with the real discord.py HTTP client."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import discord
import pytest

from fakes.discord_api import FakeDiscord
from fakes.interactions import discord_api_base
from workflows.progress import ChannelProgress

EDIT = "PATCH /channels/{channel_id}/messages/{message_id}"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def http() -> AsyncIterator[tuple[FakeDiscord, discord.http.HTTPClient]]:
    with FakeDiscord() as fake, discord_api_base(fake.api_base):
        client = discord.http.HTTPClient(asyncio.get_running_loop())
        await client.static_login(fake.token)
        try:
            yield fake, client
        finally:
            await client.close()


async def _post(fake: FakeDiscord, client: discord.http.HTTPClient) -> int:
    params = discord.http.handle_message_parameters(content="Starting…")
    return int((await client.send_message(fake.channel_id, params=params))["id"])


def _embed(text: str) -> discord.Embed:
    return discord.Embed(title=text)


async def test_edits_are_throttled_but_the_final_one_always_goes(
    http: tuple[FakeDiscord, discord.http.HTTPClient],
) -> None:
    fake, client = http
    message_id = await _post(fake, client)
    clock = Clock()
    progress = ChannelProgress(client, fake.channel_id, message_id, interval=3.0, clock=clock)

    assert await progress.update(_embed("1"))
    clock.now = 1.0
    assert not await progress.update(_embed("2"))  # within the interval: skipped
    assert await progress.update(_embed("done"), final=True)
    clock.now = 5.0
    assert await progress.update(_embed("4"))

    bodies = [v.body for v in fake.history(fake.channel_id, message_id)[1:]]
    assert [b["embeds"][0]["title"] for b in bodies] == ["1", "done", "4"]
    assert all(b["allowed_mentions"] == {"parse": []} for b in bodies)


async def test_a_deleted_message_stops_edits_without_failing(
    http: tuple[FakeDiscord, discord.http.HTTPClient],
) -> None:
    fake, client = http
    message_id = await _post(fake, client)
    progress = ChannelProgress(client, fake.channel_id, message_id, interval=0)
    fake.delete_message(fake.channel_id, message_id)

    assert not await progress.update(_embed("x"))
    assert not await progress.update(_embed("y"), final=True)
    assert fake.count(EDIT) == 1  # tried once, then left the message alone


async def test_an_hour_old_message_moves_to_a_fresh_one(
    http: tuple[FakeDiscord, discord.http.HTTPClient],
) -> None:
    fake, client = http
    message_id = await _post(fake, client)
    moved: list[int] = []

    async def remember(new_id: int) -> None:
        moved.append(new_id)

    progress = ChannelProgress(client, fake.channel_id, message_id, interval=0,
                               on_new_message=remember)
    fake.age_message(fake.channel_id, message_id, 3_700)

    assert await progress.update(_embed("still going"))
    assert await progress.update(_embed("later"))

    assert moved == [progress.message_id] and progress.message_id != message_id
    fresh = fake.message(fake.channel_id, moved[0])
    assert fresh is not None and fresh["embeds"][0]["title"] == "later"
