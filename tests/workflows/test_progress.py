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


@pytest.fixture
async def http() -> AsyncIterator[tuple[FakeDiscord, discord.http.HTTPClient]]:
    with FakeDiscord() as fake, discord_api_base(fake.api_base):
        client = discord.http.HTTPClient(asyncio.get_running_loop())
        await client.static_login(fake.token)
        try:
            yield fake, client
        finally:
            await client.close()


@pytest.fixture
async def fake_and_patient_client() -> AsyncIterator[tuple[FakeDiscord, discord.http.HTTPClient]]:
    """A client that waits out at most 1 s of rate limit itself, then raises RateLimited."""
    with FakeDiscord() as fake, discord_api_base(fake.api_base):
        client = discord.http.HTTPClient(asyncio.get_running_loop(), max_ratelimit_timeout=1.0)
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


async def test_states_are_throttled_and_coalesced_but_a_final_one_goes_at_once(
    http: tuple[FakeDiscord, discord.http.HTTPClient],
) -> None:
    fake, client = http
    message_id = await _post(fake, client)
    progress = ChannelProgress(client, fake.channel_id, message_id, interval=60.0)

    assert await progress.update(_embed("1"))
    assert await progress.flush(5)
    assert await progress.update(_embed("2"))  # within the interval: held back...
    assert await progress.update(_embed("3"))  # ...and replaced by the newer state
    assert not await progress.flush(0.2)
    assert await progress.update(_embed("done"), final=True)  # skips the interval
    assert await progress.flush(5)

    bodies = [v.body for v in fake.history(fake.channel_id, message_id)[1:]]
    assert [b["embeds"][0]["title"] for b in bodies] == ["1", "done"]
    assert all(b["allowed_mentions"] == {"parse": []} for b in bodies)


async def test_a_deleted_message_stops_edits_without_failing(
    http: tuple[FakeDiscord, discord.http.HTTPClient],
) -> None:
    fake, client = http
    message_id = await _post(fake, client)
    progress = ChannelProgress(client, fake.channel_id, message_id, interval=0)
    fake.delete_message(fake.channel_id, message_id)

    assert await progress.update(_embed("x"))
    await progress.flush(5)
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

    progress = ChannelProgress(
        client, fake.channel_id, message_id, interval=0, on_new_message=remember
    )
    fake.age_message(fake.channel_id, message_id, 3_700)

    assert await progress.update(_embed("still going"))
    assert await progress.flush(5)
    assert await progress.update(_embed("later"))
    assert await progress.flush(5)

    assert moved == [progress.message_id] and progress.message_id != message_id
    fresh = fake.message(fake.channel_id, moved[0])
    assert fresh is not None and fresh["embeds"][0]["title"] == "later"


async def test_a_rate_limit_longer_than_the_client_waits_is_waited_out_in_the_background(
    fake_and_patient_client: tuple[FakeDiscord, discord.http.HTTPClient],
) -> None:
    fake, client = fake_and_patient_client  # discord.py raises RateLimited past 1 s
    message_id = await _post(fake, client)
    fake.force_429(EDIT, retry_after=2)
    progress = ChannelProgress(client, fake.channel_id, message_id, interval=0)

    assert await progress.update(_embed("summary"), final=True)  # no RateLimited escapes
    assert progress.delivered == 0
    assert await progress.flush(10)

    assert fake.count(EDIT) == 2  # the 429, then the state again once it expired
    current = fake.message(fake.channel_id, message_id)
    assert current is not None and current["embeds"][0]["title"] == "summary"


async def test_a_slow_discord_never_holds_the_caller_and_only_the_newest_state_follows(
    http: tuple[FakeDiscord, discord.http.HTTPClient],
) -> None:
    fake, client = http
    message_id = await _post(fake, client)
    fake.delay(EDIT, 1.0)
    progress = ChannelProgress(client, fake.channel_id, message_id, interval=0)

    assert await progress.update(_embed("1"))
    assert not await progress.flush(0.2)  # "1" is in flight for a second
    for n in range(2, 6):
        assert await progress.update(_embed(str(n)))  # returns at once all the same
    assert progress.delivered == 0
    assert await progress.flush(10)

    bodies = [v.body for v in fake.history(fake.channel_id, message_id)[1:]]
    assert [b["embeds"][0]["title"] for b in bodies] == ["1", "5"]


async def test_a_closed_job_leaves_its_last_state_to_a_background_sender(
    fake_and_patient_client: tuple[FakeDiscord, discord.http.HTTPClient],
) -> None:
    fake, client = fake_and_patient_client
    message_id = await _post(fake, client)
    fake.force_429(EDIT, retry_after=2)
    keep: set[asyncio.Task[None]] = set()
    progress = ChannelProgress(client, fake.channel_id, message_id, interval=0, keep=keep)

    await progress.update(_embed("done"), final=True)
    await progress.close(wait=0.1)  # the job returns; the summary is still on its way

    assert len(keep) == 1
    await asyncio.wait(keep, timeout=10)
    current = fake.message(fake.channel_id, message_id)
    assert current is not None and current["embeds"][0]["title"] == "done"
    assert not keep
