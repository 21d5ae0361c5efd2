"""Every answer the fake Discord gives matches Discord's own OpenAPI description.

One scenario drives the real discord.py (login, command sync, every interaction style,
channel messages) plus a few raw requests for error answers; then each logged answer is
validated against the schema `discord-openapi.json` documents for that operation and
status. A fake that drifts from Discord's shapes fails here, not in production.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import aiohttp
import discord
import pytest

from fakes.discord_api import CallRecord, FakeDiscord, known_routes
from fakes.interactions import FakeUser, InteractionDriver, logged_in
from tests.contract.openapi import (
    OpenAPISpec,
    load_vendor_spec,
    response_schema,
    undocumented_fields,
    validation_errors,
)
from tests.contract.traffic import without_known_gaps
from tests.fakes.test_discord_fake import PlaygroundBot

SPEC_FILE = "discord-openapi.json"
RATE_LIMIT_HEADERS = {
    "X-RateLimit-Limit": int,
    "X-RateLimit-Remaining": int,
    "X-RateLimit-Reset": float,
    "X-RateLimit-Reset-After": float,
    "X-RateLimit-Bucket": str,
}


@pytest.fixture(scope="module")
def spec() -> OpenAPISpec:
    return load_vendor_spec(SPEC_FILE)


@pytest.fixture(scope="module")
def calls(spec: OpenAPISpec) -> Iterator[list[CallRecord]]:
    """The call log of one scenario that makes the fake send every kind of answer."""
    with FakeDiscord() as fake:
        asyncio.run(_exercise(fake))
        yield fake.calls()


async def _exercise(fake: FakeDiscord) -> None:
    async with logged_in(PlaygroundBot(), fake) as bot:
        await _commands(bot, fake)
        with InteractionDriver(bot, fake, user=FakeUser(99, "carol")) as driver:
            await _interactions(driver, fake)
        await _channel(bot, fake)
    await _raw_errors(fake)


async def _commands(bot: PlaygroundBot, fake: FakeDiscord) -> None:
    guild = discord.Object(fake.guild_id)
    await bot.tree.sync()
    bot.tree.copy_global_to(guild=guild)
    await bot.tree.sync(guild=guild)
    await bot.tree.fetch_commands()
    await bot.tree.fetch_commands(guild=guild)


async def _interactions(driver: InteractionDriver, fake: FakeDiscord) -> None:
    await (await driver.slash("ping")).response()
    slow = await driver.slash("slow")
    await slow.finished()
    await (await driver.autocomplete("share", {"url": "spotify"}, focused="url")).response()
    vote = await driver.slash("vote")
    message = await vote.original()
    await (await driver.press(int(message["id"]), "vote:up")).response()
    await (await driver.slash("announce", {"text": "hi"})).finished()
    [note] = await slow.followups()
    hook = f"{fake.api_base}/webhooks/{fake.application_id}/{slow.token}/messages"
    async with aiohttp.ClientSession() as session:
        for method, url in [
            ("GET", f"{hook}/@original"),
            ("GET", f"{hook}/{note['id']}"),
            ("DELETE", f"{hook}/{note['id']}"),
            ("DELETE", f"{hook}/@original"),
            ("GET", f"{hook}/@original"),  # 404 Unknown Message now
        ]:
            async with session.request(method, url) as answer:
                await answer.read()


async def _channel(bot: PlaygroundBot, fake: FakeDiscord) -> None:
    channel = await bot.fetch_channel(fake.channel_id)
    assert isinstance(channel, discord.TextChannel)
    fake.force_429("POST /channels/{channel_id}/messages", retry_after=0.01)
    sent = await channel.send(
        "contract", embed=discord.Embed(title="t").add_field(name="a", value="b")
    )
    await sent.edit(content="contract, edited")
    await channel.fetch_message(sent.id)
    _ = [m async for m in channel.history(limit=5)]
    fake.age_message(fake.channel_id, sent.id, 3601)
    with pytest.raises(discord.HTTPException):
        await sent.edit(content="too old")  # 400 30046
    await sent.delete()
    with pytest.raises(discord.NotFound):
        await sent.edit(content="gone")  # 404 10008
    with pytest.raises(discord.HTTPException):
        await channel.send("x" * 2001)  # 400 50035 with an error tree
    with pytest.raises(discord.HTTPException):
        await channel.send(embed=discord.Embed(title="x" * 257))  # 50035 at embeds.0.title
    fake.deny_channel(fake.channel_id)
    with pytest.raises(discord.Forbidden):
        await channel.send("denied")  # 403 50001
    fake.allow_channel(fake.channel_id)


async def _raw_errors(fake: FakeDiscord) -> None:
    """Answers discord.py never provokes on its own: 401, a global 429, a 500, and the
    interaction deadlines (10062 after 3 s, 50027 once the token's 15 minutes are over)."""
    fake.force_429("GET /oauth2/applications/@me", retry_after=2.5, is_global=True)
    fake.force_error("GET /channels/{channel_id}", 500)
    auth = {"Authorization": f"Bot {fake.token}"}
    async with aiohttp.ClientSession() as session:
        for url, headers in [
            ("/users/@me", {}),
            ("/oauth2/applications/@me", auth),
            (f"/channels/{fake.channel_id}", auth),
        ]:
            async with session.get(fake.api_base + url, headers=headers) as answer:
                await answer.read()
        for body in ({"recipient_id": "97"}, {}):  # a DM opened, then a form error (400)
            async with session.post(
                fake.api_base + "/users/@me/channels", json=body, headers=auth
            ) as answer:
                await answer.read()
        user = FakeUser(98, "dan").payload()
        ticket = fake.issue_interaction(
            2, channel_id=fake.channel_id, guild_id=fake.guild_id, user=user, name="ping"
        )
        fake.advance(15 * 60 + 1)
        for url in [
            f"/interactions/{ticket.id}/{ticket.token}/callback",
            f"/webhooks/{fake.application_id}/{ticket.token}",
        ]:
            body = {"type": 4, "data": {"content": "late"}}
            async with session.post(fake.api_base + url, json=body) as answer:
                await answer.read()


def _schema_for(spec: OpenAPISpec, call: CallRecord) -> Any:
    method, path = call.route.split(" ", 1)
    if call.status >= 500:  # undocumented, but Discord's 5xx bodies are plain errors
        return "ErrorResponse"
    status = "4XX" if 400 <= call.status < 500 and call.status != 429 else call.status
    return response_schema(spec, path, method, status)


def _judged(call: CallRecord) -> Any:
    """The answer as the spec can judge it (see `without_known_gaps`)."""
    return without_known_gaps("discord", call.status, call.response)


def _leaves(tree: Any) -> Iterator[Any]:
    for key, value in tree.items():
        if key == "_errors":
            yield from value
        else:
            yield from _leaves(value)


def test_every_answer_matches_the_spec(spec: OpenAPISpec, calls: list[CallRecord]) -> None:
    problems = []
    for call in calls:
        assert call.route, f"discord.py called a route the fake does not serve: {call.path}"
        if call.status == 204:
            assert call.response is None
            continue
        for error in validation_errors(spec, _schema_for(spec, call), _judged(call)):
            problems.append(f"{call.route} {call.status}: {error.json_path}: {error.message}")
    assert problems == []


def test_field_errors_have_discords_shape(calls: list[CallRecord]) -> None:
    trees = [c.response["errors"] for c in calls if c.response and "errors" in c.response]
    assert trees, "the scenario should provoke a 50035 Invalid Form Body"
    for tree in trees:
        leaves = list(_leaves(tree))
        assert leaves and all(
            isinstance(leaf["code"], str) and isinstance(leaf["message"], str) for leaf in leaves
        )


def test_answers_carry_no_undocumented_fields(spec: OpenAPISpec, calls: list[CallRecord]) -> None:
    extra = {
        (call.route, call.status, path)
        for call in calls
        if call.response is not None
        for path in undocumented_fields(spec, _schema_for(spec, call), _judged(call))
    }
    assert extra == set()


def test_scenario_reaches_every_route_and_error(calls: list[CallRecord]) -> None:
    assert {c.route for c in calls} == set(known_routes())
    assert {c.status for c in calls} >= {200, 204, 400, 401, 403, 404, 429, 500}
    codes = {c.response.get("code") for c in calls if isinstance(c.response, dict)}
    assert codes >= {30046, 10008, 50035, 50001, 10062, 50027}
    assert any(c.response.get("global") for c in calls if c.status == 429)


def test_rate_limit_headers_have_documented_types(
    spec: OpenAPISpec, calls: list[CallRecord]
) -> None:
    documented = {name: spec.resolve(f"#/components/headers/{name}") for name in RATE_LIMIT_HEADERS}
    kinds = {"integer": int, "number": float, "string": str}
    assert {
        name: kinds[h["schema"]["type"]] for name, h in documented.items()
    } == RATE_LIMIT_HEADERS
    for call in calls:
        if not call.route:
            continue
        for name, kind in RATE_LIMIT_HEADERS.items():
            kind(call.headers[name])  # raises if the value has the wrong type
        if call.status == 429:
            assert call.headers["Via"] and int(call.headers["Retry-After"]) >= 1
            assert call.headers["X-RateLimit-Scope"] in ("user", "global", "shared")


def test_wrong_shapes_fail_validation(spec: OpenAPISpec, calls: list[CallRecord]) -> None:
    message = next(
        c.response
        for c in calls
        if c.route == "POST /channels/{channel_id}/messages" and c.status == 200
    )
    assert validation_errors(spec, "MessageResponse", message) == []
    no_author = {k: v for k, v in message.items() if k != "author"}
    numeric_id = {**message, "id": int(message["id"])}
    bad = [
        ("MessageResponse", no_author),
        ("MessageResponse", numeric_id),
        ("ErrorResponse", {"message": "Unknown Message"}),
        ("RatelimitedResponse", {"message": "slow down", "code": 0, "global": False}),
        ("InteractionCallbackResponse", {"resource": {"type": 4, "message": message}}),
        ("UserPIIResponse", {"id": "1", "username": "x"}),
    ]
    for schema, instance in bad:
        assert validation_errors(spec, schema, instance), f"{schema} accepted {instance!r}"
