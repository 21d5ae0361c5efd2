"""Discord's limits as the fake enforces them, each with the exact answer Discord gives.

Message limits on every route that carries a message body, autocomplete limits, the
command-sync answer's types, the interaction deadlines (with the fake's clock moved
forward instead of waiting), and the message-edit rate limit, which discord.py must wait
out rather than fail on.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import aiohttp
import discord
import pytest
from discord import app_commands
from discord.ext import commands
from discord.http import HTTPClient, handle_message_parameters

from fakes.discord_api import FakeDiscord
from fakes.interactions import FakeUser, InteractionDriver, discord_api_base, logged_in
from tests.fakes.test_discord_fake import PlaygroundBot

EDIT_MESSAGE = "PATCH /channels/{channel_id}/messages/{message_id}"
CALLBACK = "POST /interactions/{interaction_id}/{interaction_token}/callback"
Answer = tuple[int, Any]


@pytest.fixture
def fake() -> Iterator[FakeDiscord]:
    with FakeDiscord() as server:
        yield server


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


def _leaf(code: str, message: str) -> dict[str, Any]:
    return {"_errors": [{"code": code, "message": message}]}


def _too_long(limit: int) -> dict[str, Any]:
    return _leaf("BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")


def _invalid(errors: dict[str, Any]) -> dict[str, Any]:
    return {"message": "Invalid Form Body", "code": 50035, "errors": errors}


def _embed(**fields: Any) -> dict[str, Any]:
    return {"title": "t", **fields}


REQUIRED = _leaf("BASE_TYPE_REQUIRED", "This field is required")
TOO_BIG = _leaf("MAX_EMBED_SIZE_EXCEEDED", "Embed size exceeds maximum size of 6000")
BAD_CHOICE_NAME = _leaf("BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
BAD_NAME = _leaf("APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")


# (case id, message body, the `errors` tree Discord answers with)
MESSAGE_LIMITS: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("content", {"content": "x" * 2001}, {"content": _too_long(2000)}),
    (
        "title",
        {"embeds": [{"title": "x" * 257}]},
        {"embeds": {"0": {"title": _too_long(256)}}},
    ),
    (
        "description",
        {"embeds": [_embed(), {"description": "x" * 4097}]},
        {"embeds": {"1": {"description": _too_long(4096)}}},
    ),
    (
        "field count",
        {"embeds": [_embed(fields=[{"name": "n", "value": "v"}] * 26)]},
        {"embeds": {"0": {"fields": _too_long(25)}}},
    ),
    (
        "field name",
        {
            "embeds": [
                _embed(fields=[{"name": "n", "value": "v"}, {"name": "x" * 257, "value": "v"}])
            ]
        },
        {"embeds": {"0": {"fields": {"1": {"name": _too_long(256)}}}}},
    ),
    (
        "field value",
        {"embeds": [_embed(fields=[{"name": "n", "value": "x" * 1025}])]},
        {"embeds": {"0": {"fields": {"0": {"value": _too_long(1024)}}}}},
    ),
    (
        "empty field value",
        {"embeds": [_embed(fields=[{"name": "n", "value": ""}])]},
        {"embeds": {"0": {"fields": {"0": {"value": REQUIRED}}}}},
    ),
    (
        "footer",
        {"embeds": [_embed(footer={"text": "x" * 2049})]},
        {"embeds": {"0": {"footer": {"text": _too_long(2048)}}}},
    ),
    (
        "author",
        {"embeds": [_embed(author={"name": "x" * 257})]},
        {"embeds": {"0": {"author": {"name": _too_long(256)}}}},
    ),
    ("embed count", {"embeds": [_embed()] * 11}, {"embeds": _too_long(10)}),
    (
        "6000 in all",
        {"embeds": [{"description": "x" * 3000}, {"title": "t", "description": "x" * 3000}]},
        {"embeds": TOO_BIG},
    ),
]

# Every per-field limit reached exactly, and 6000 characters in all: Discord accepts it.
AT_THE_LIMITS = {
    "content": "c" * 2000,
    "embeds": [
        {
            "title": "t" * 256,
            "description": "d" * 1048,
            "fields": [{"name": "n" * 256, "value": "v" * 1024} for _ in range(2)],
            "footer": {"text": "f" * 64},
            "author": {"name": "a" * 256},
        },
        {"description": "d" * 1770, "fields": [{"name": "n", "value": "v"}] * 23},
    ],
}


class Routes:
    """Sends one message body over each route that carries one, answering (status, body)."""

    def __init__(self, fake: FakeDiscord, session: aiohttp.ClientSession) -> None:
        self.fake = fake
        self.session = session
        self.auth = {"Authorization": f"Bot {fake.token}"}

    async def request(
        self, method: str, path: str, body: Any = None, *, auth: bool = False
    ) -> Answer:
        headers = self.auth if auth else {}
        url = self.fake.api_base + path
        async with self.session.request(method, url, json=body, headers=headers) as answer:
            return answer.status, (await answer.json() if answer.status != 204 else None)

    def interaction(self, kind: int = 2, message_id: int | None = None) -> Any:
        return self.fake.issue_interaction(
            kind,
            channel_id=self.fake.channel_id,
            guild_id=self.fake.guild_id,
            user=FakeUser(7, "dee").payload(),
            name="cmd",
            message_id=message_id,
        )

    def hook(self, token: str) -> str:
        return f"/webhooks/{self.fake.application_id}/{token}"

    async def post(self, content: str = "before") -> int:
        status, message = await self.request(
            "POST", f"/channels/{self.fake.channel_id}/messages", {"content": content}, auth=True
        )
        assert status == 200
        return int(message["id"])

    async def create(self, body: Any) -> Answer:
        return await self.request(
            "POST", f"/channels/{self.fake.channel_id}/messages", body, auth=True
        )

    async def edit(self, body: Any) -> Answer:
        path = f"/channels/{self.fake.channel_id}/messages/{await self.post()}"
        return await self.request("PATCH", path, body, auth=True)

    async def reply(self, body: Any) -> Answer:
        ticket = self.interaction()
        return await self.request(
            "POST", f"/interactions/{ticket.id}/{ticket.token}/callback", {"type": 4, "data": body}
        )

    async def update(self, body: Any) -> Answer:
        ticket = self.interaction(3, await self.post())
        return await self.request(
            "POST", f"/interactions/{ticket.id}/{ticket.token}/callback", {"type": 7, "data": body}
        )

    async def followup(self, body: Any) -> Answer:
        ticket = self.interaction()
        await self.request(
            "POST", f"/interactions/{ticket.id}/{ticket.token}/callback", {"type": 5}
        )
        return await self.request("POST", f"{self.hook(ticket.token)}?wait=true", body)

    async def edit_original(self, body: Any) -> Answer:
        ticket = self.interaction()
        reply = {"type": 4, "data": {"content": "before"}}
        await self.request("POST", f"/interactions/{ticket.id}/{ticket.token}/callback", reply)
        return await self.request("PATCH", f"{self.hook(ticket.token)}/messages/@original", body)

    async def edit_followup(self, body: Any) -> Answer:
        ticket = self.interaction()
        await self.request(
            "POST", f"/interactions/{ticket.id}/{ticket.token}/callback", {"type": 5}
        )
        _, note = await self.request(
            "POST", f"{self.hook(ticket.token)}?wait=true", {"content": "before"}
        )
        return await self.request("PATCH", f"{self.hook(ticket.token)}/messages/{note['id']}", body)


SENDERS: dict[str, Callable[[Routes, Any], Awaitable[Answer]]] = {
    "create": Routes.create,
    "edit": Routes.edit,
    "callback": Routes.reply,
    "update callback": Routes.update,
    "followup": Routes.followup,
    "edit @original": Routes.edit_original,
    "edit followup": Routes.edit_followup,
}
UNDER_DATA = {"callback", "update callback"}


@pytest.mark.parametrize("route", list(SENDERS))
@pytest.mark.parametrize(
    ("body", "errors"),
    [(body, errors) for _, body, errors in MESSAGE_LIMITS],
    ids=[case for case, _, _ in MESSAGE_LIMITS],
)
async def test_message_limits_are_400_50035_naming_the_field(
    fake: FakeDiscord,
    session: aiohttp.ClientSession,
    route: str,
    body: dict[str, Any],
    errors: dict[str, Any],
) -> None:
    status, answer = await SENDERS[route](Routes(fake, session), body)
    expected = {"data": errors} if route in UNDER_DATA else errors
    assert (status, answer) == (400, _invalid(expected))
    shown = [m["content"] for m in fake.messages(fake.channel_id)]
    assert set(shown) <= {"before", ""}, "a refused body must change nothing"


@pytest.mark.parametrize("route", list(SENDERS))
async def test_a_body_at_every_limit_is_accepted(
    fake: FakeDiscord, session: aiohttp.ClientSession, route: str
) -> None:
    assert sum(len(discord.Embed.from_dict(e)) for e in AT_THE_LIMITS["embeds"]) == 6000
    status, answer = await SENDERS[route](Routes(fake, session), AT_THE_LIMITS)
    assert status in (200, 204), answer


async def test_every_violation_is_named_at_once(
    fake: FakeDiscord, session: aiohttp.ClientSession
) -> None:
    body = {"content": "x" * 2001, "embeds": [{"title": "x" * 257, "footer": {"text": "x" * 2049}}]}
    status, answer = await Routes(fake, session).create(body)
    assert (status, answer) == (
        400,
        _invalid(
            {
                "content": _too_long(2000),
                "embeds": {"0": {"title": _too_long(256), "footer": {"text": _too_long(2048)}}},
            }
        ),
    )


async def test_discord_py_surfaces_the_field_path(fake: FakeDiscord) -> None:
    """What a bot's log shows: discord.py flattens the tree into `In embeds.0.title`."""
    http = HTTPClient(asyncio.get_running_loop())
    with discord_api_base(fake.api_base):
        await http.static_login(fake.token)
        try:
            embed = discord.Embed(title="x" * 257)
            with (
                handle_message_parameters(embed=embed) as params,
                pytest.raises(discord.HTTPException) as refused,
            ):
                await http.send_message(fake.channel_id, params=params)
        finally:
            await http.close()
    assert (refused.value.status, refused.value.code) == (400, 50035)
    assert "In embeds.0.title: Must be 256 or fewer in length." in str(refused.value)


# -- autocomplete --------------------------------------------------------------------------


def _choices(count: int, name: str = "song", value: str = "id") -> list[dict[str, str]]:
    return [{"name": name, "value": value} for _ in range(count)]


@pytest.mark.parametrize(
    ("choices", "errors"),
    [
        (_choices(26), {"choices": _too_long(25)}),
        (_choices(1, name=""), {"choices": {"0": {"name": BAD_CHOICE_NAME}}}),
        (
            [*_choices(2), {"name": "x" * 101, "value": "id"}],
            {"choices": {"2": {"name": BAD_CHOICE_NAME}}},
        ),
        (_choices(1, value="v" * 101), {"choices": {"0": {"value": _too_long(100)}}}),
    ],
    ids=["26 choices", "empty name", "long name", "long string value"],
)
async def test_autocomplete_limits(
    fake: FakeDiscord,
    session: aiohttp.ClientSession,
    choices: list[dict[str, str]],
    errors: dict[str, Any],
) -> None:
    routes = Routes(fake, session)
    ticket = routes.interaction(4)
    status, answer = await routes.request(
        "POST",
        f"/interactions/{ticket.id}/{ticket.token}/callback",
        {"type": 8, "data": {"choices": choices}},
    )
    assert (status, answer) == (400, _invalid({"data": errors}))
    assert fake.interaction_response(ticket.id) is None


async def test_autocomplete_at_the_limits_is_accepted(
    fake: FakeDiscord, session: aiohttp.ClientSession
) -> None:
    routes = Routes(fake, session)
    ticket = routes.interaction(4)
    full = [{"name": "n" * 100, "value": "v" * 100}] * 24 + [{"name": "n", "value": 10**12}]
    status, _ = await routes.request(
        "POST",
        f"/interactions/{ticket.id}/{ticket.token}/callback",
        {"type": 8, "data": {"choices": full}},
    )
    assert status == 204
    response = fake.interaction_response(ticket.id)
    assert response is not None and len(response.choices) == 25


# -- command sync ---------------------------------------------------------------------------


async def test_sync_answers_permissions_as_a_string(fake: FakeDiscord) -> None:
    """The spec's `ApplicationCommandResponse.default_member_permissions` is string|null."""
    async with logged_in(PlaygroundBot(), fake) as bot:
        synced = {c.name: c for c in await bot.tree.sync()}
    [put] = fake.calls("PUT /applications/{application_id}/commands")
    sent = {c["name"]: c for c in put.request}
    answered = {c["name"]: c for c in put.response}
    assert sent["admin"]["default_member_permissions"] == 32  # discord.py sends an integer
    assert answered["admin"]["default_member_permissions"] == "32"
    assert answered["ping"]["default_member_permissions"] is None
    assert synced["admin"].default_member_permissions == discord.Permissions(manage_guild=True)
    share_options = {o["name"]: o for o in answered["share"]["options"]}
    url = {"type": 3, "name": "url", "description": "…", "required": True, "autocomplete": True}
    assert share_options["url"] == url
    assert "required" not in share_options["count"]  # Discord leaves out a false `required`


async def test_sync_refuses_what_discord_refuses(
    fake: FakeDiscord, session: aiohttp.ClientSession
) -> None:
    routes = Routes(fake, session)
    path = f"/applications/{fake.application_id}/guilds/{fake.guild_id}/commands"
    option = {"type": 3, "name": "q", "description": "d" * 101}
    choices = {"type": 3, "name": "pick", "description": "p", "choices": _choices(26)}
    body = [
        {"name": "fine", "description": "ok", "default_member_permissions": "32"},
        {"name": "Bad", "description": "d", "options": [option, choices]},
    ]
    status, answer = await routes.request("PUT", path, body, auth=True)
    bad_description = _leaf("BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
    options = {"0": {"description": bad_description}, "1": {"choices": _too_long(25)}}
    assert (status, answer) == (400, _invalid({"1": {"name": BAD_NAME, "options": options}}))
    assert fake.commands(fake.guild_id) == []


# -- interaction deadlines -------------------------------------------------------------------


UNKNOWN_INTERACTION = {"message": "Unknown interaction", "code": 10062}
INVALID_TOKEN = {"message": "Invalid Webhook Token", "code": 50027}


async def test_initial_response_is_due_within_3_seconds(
    fake: FakeDiscord, session: aiohttp.ClientSession
) -> None:
    routes = Routes(fake, session)
    in_time, late = routes.interaction(), routes.interaction()
    reply = {"type": 4, "data": {"content": "hi"}}

    async def answer(ticket: Any) -> Answer:
        return await routes.request(
            "POST", f"/interactions/{ticket.id}/{ticket.token}/callback", reply
        )

    fake.advance(2.9)
    assert await answer(in_time) == (204, None)
    fake.advance(0.2)
    assert await answer(late) == (404, UNKNOWN_INTERACTION)
    assert fake.interaction_response(late.id) is None


async def test_followup_tokens_expire_after_15_minutes(
    fake: FakeDiscord, session: aiohttp.ClientSession
) -> None:
    routes = Routes(fake, session)
    ticket = routes.interaction()
    reply = {"type": 4, "data": {"content": "hi"}}
    await routes.request("POST", f"/interactions/{ticket.id}/{ticket.token}/callback", reply)
    hook = routes.hook(ticket.token)
    fake.advance(15 * 60 - 1)
    status, note = await routes.request("POST", f"{hook}?wait=true", {"content": "in time"})
    assert status == 200
    fake.advance(2)
    for method, path, body in [
        ("POST", f"{hook}?wait=true", {"content": "late"}),
        ("GET", f"{hook}/messages/@original", None),
        ("PATCH", f"{hook}/messages/@original", {"content": "late"}),
        ("PATCH", f"{hook}/messages/{note['id']}", {"content": "late"}),
        ("DELETE", f"{hook}/messages/{note['id']}", None),
    ]:
        assert await routes.request(method, path, body) == (401, INVALID_TOKEN), (method, path)
    assert [m["content"] for m in fake.followups(ticket.token)] == ["in time"]


class LateCog(commands.Cog):
    """Commands that let the fake's clock run past a deadline before they answer."""

    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake
        self.errors: list[discord.HTTPException] = []

    @app_commands.command(description="Answers after the 3 s deadline")
    async def late(self, interaction: discord.Interaction) -> None:
        self.fake.advance(3.5)
        try:
            await interaction.response.send_message("too late")
        except discord.HTTPException as error:
            self.errors.append(error)

    @app_commands.command(description="Follows up after 15 minutes")
    async def stale(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer()
        self.fake.advance(15 * 60 + 1)
        try:
            await interaction.followup.send("too late")
        except discord.HTTPException as error:
            self.errors.append(error)


async def test_discord_py_sees_the_deadlines(fake: FakeDiscord) -> None:
    cog = LateCog(fake)
    bot = commands.Bot(command_prefix="!", intents=discord.Intents.none())
    await bot.add_cog(cog)
    async with logged_in(bot, fake):
        with InteractionDriver(bot, fake) as driver:
            await (await driver.slash("late")).finished()
            await (await driver.slash("stale")).finished()
    late, stale = cog.errors
    assert isinstance(late, discord.NotFound) and (late.status, late.code) == (404, 10062)
    assert (stale.status, stale.code, stale.text) == (401, 50027, "Invalid Webhook Token")


# -- the message-edit rate limit -------------------------------------------------------------


def _content(fake: FakeDiscord, message_id: int) -> str:
    message = fake.message(fake.channel_id, message_id)
    assert message is not None
    return str(message["content"])


async def test_editing_faster_than_5_per_5_seconds_is_429(
    fake: FakeDiscord, session: aiohttp.ClientSession
) -> None:
    routes = Routes(fake, session)
    first, other = await routes.post(), await routes.post()
    path = f"/channels/{fake.channel_id}/messages"
    answers = [
        await routes.request("PATCH", f"{path}/{first}", {"content": f"{n}"}, auth=True)
        for n in range(6)
    ]
    assert [status for status, _ in answers] == [200] * 5 + [429]
    body = answers[-1][1]
    assert body == {**body, "message": "You are being rate limited.", "global": False, "code": 0}
    assert 4 < body["retry_after"] <= 5
    limited = fake.calls(EDIT_MESSAGE)[-1]
    assert limited.headers["X-RateLimit-Limit"] == "5"
    assert limited.headers["X-RateLimit-Remaining"] == "0"
    assert limited.headers["Retry-After"] == "5" and limited.headers["Via"]
    assert limited.headers["X-RateLimit-Scope"] == "user"
    assert _content(fake, first) == "4"
    # The bucket is per channel: the same channel's other message shares it...
    status, _ = await routes.request("PATCH", f"{path}/{other}", {"content": "x"}, auth=True)
    assert status == 429
    # ...and another channel has a bucket of its own.
    elsewhere = fake.add_channel(name="elsewhere")
    _, posted = await routes.request(
        "POST", f"/channels/{elsewhere}/messages", {"content": "hi"}, auth=True
    )
    edit = f"/channels/{elsewhere}/messages/{posted['id']}"
    assert (await routes.request("PATCH", edit, {"content": "ok"}, auth=True))[0] == 200


async def test_discord_py_waits_out_the_edit_bucket(fake: FakeDiscord) -> None:
    """discord.py reads `Remaining: 0` and sleeps, so six quick edits all succeed."""
    http = HTTPClient(asyncio.get_running_loop())
    with discord_api_base(fake.api_base):
        await http.static_login(fake.token)
        try:
            with handle_message_parameters(content="0") as params:
                posted = await http.send_message(fake.channel_id, params=params)
            for n in range(1, 7):
                with handle_message_parameters(content=str(n)) as params:
                    await http.edit_message(fake.channel_id, posted["id"], params=params)
        finally:
            await http.close()
    edits = fake.calls(EDIT_MESSAGE)
    assert [c.status for c in edits] == [200] * 6
    assert edits[5].at - edits[0].at >= 4.9
    assert _content(fake, int(posted["id"])) == "6"


async def test_forced_429_window_still_overrides_the_bucket(
    fake: FakeDiscord, session: aiohttp.ClientSession
) -> None:
    routes = Routes(fake, session)
    message = await routes.post()
    fake.force_429(EDIT_MESSAGE, retry_after=0.2, for_seconds=0.3)
    path = f"/channels/{fake.channel_id}/messages/{message}"
    limited = [await routes.request("PATCH", path, {"content": "x"}, auth=True) for _ in range(3)]
    assert [status for status, _ in limited] == [429] * 3
    assert limited[0][1]["retry_after"] == 0.2
    await asyncio.sleep(0.35)
    assert (await routes.request("PATCH", path, {"content": "y"}, auth=True))[0] == 200
