"""The fake Discord and the interaction driver, exercised by the real discord.py.

A small playground bot (slash commands, a deferred command, autocomplete, a button, a
channel post) runs against `FakeDiscord` through `InteractionDriver`; the tests assert on
what the fake recorded, i.e. on what a member would have seen.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import discord
import pytest
from discord import app_commands
from discord.ext import commands
from discord.http import HTTPClient, handle_message_parameters

from fakes.discord_api import FakeDiscord
from fakes.interactions import (
    MANAGE_GUILD,
    MEMBER_PERMISSIONS,
    FakeUser,
    InteractionDriver,
    discord_api_base,
    logged_in,
)

POST_MESSAGE = "POST /channels/{channel_id}/messages"
EDIT_MESSAGE = "PATCH /channels/{channel_id}/messages/{message_id}"
CALLBACK = "POST /interactions/{interaction_id}/{interaction_token}/callback"
SONGS = ["https://open.spotify.com/playlist/abc", "https://music.youtube.com/playlist?list=xyz"]


class VoteView(discord.ui.View):
    """A persistent button whose callback edits the message it sits on."""

    def __init__(self) -> None:
        super().__init__(timeout=None)

    @discord.ui.button(label="Upvote", custom_id="vote:up", style=discord.ButtonStyle.primary)
    async def upvote(
        self, interaction: discord.Interaction, button: discord.ui.Button[Any]
    ) -> None:
        await interaction.response.edit_message(content="votes: 1", view=None)


class Playground(commands.Cog):
    """One command per interaction style the real bot uses."""

    admin = app_commands.Group(
        name="admin",
        description="Server settings",
        default_permissions=discord.Permissions(manage_guild=True),
    )

    @app_commands.command(description="Check the bot is alive")
    async def ping(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message("pong", ephemeral=True)

    @app_commands.command(description="Defer, then follow up and edit")
    async def slow(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(thinking=True)
        note = await interaction.followup.send("working…", wait=True)
        await note.edit(content="done", embed=discord.Embed(title="Import", description="3/3"))
        await interaction.edit_original_response(content="finished")

    @app_commands.command(description="Share a playlist")
    async def share(
        self,
        interaction: discord.Interaction,
        url: str,
        count: int = 1,
        private: bool = False,
        who: discord.Member | None = None,
    ) -> None:
        name = who.display_name if who else "nobody"
        await interaction.response.send_message(f"{url} x{count} for {name}", ephemeral=private)

    @share.autocomplete("url")
    async def share_url(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return [app_commands.Choice(name=url[:100], value=url) for url in SONGS if current in url]

    @app_commands.command(description="Start a vote")
    async def vote(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message("votes: 0", view=VoteView())

    @app_commands.command(description="Post in the channel, then edit it")
    async def announce(self, interaction: discord.Interaction, text: str) -> None:
        await interaction.response.send_message("posting", ephemeral=True)
        assert isinstance(interaction.channel, discord.TextChannel)
        posted = await interaction.channel.send(text)
        await posted.edit(content=f"{text} (edited)")

    @app_commands.command(description="Always fails")
    async def boom(self, interaction: discord.Interaction) -> None:
        raise RuntimeError("boom in the handler")

    @admin.command(name="config", description="Change settings")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def config(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message("configured", ephemeral=True)

    @config.error
    async def config_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        if isinstance(error, app_commands.MissingPermissions):
            await interaction.response.send_message("You need Manage Server.", ephemeral=True)


class PlaygroundBot(commands.Bot):
    """A bot with the playground cog; no gateway, no intents."""

    def __init__(self) -> None:
        super().__init__(command_prefix="!", intents=discord.Intents.none())

    async def setup_hook(self) -> None:
        await self.add_cog(Playground())
        self.add_view(VoteView())


@pytest.fixture
def fake() -> Iterator[FakeDiscord]:
    with FakeDiscord() as server:
        yield server


@pytest.fixture
async def bot(fake: FakeDiscord) -> AsyncIterator[PlaygroundBot]:
    async with logged_in(PlaygroundBot(), fake) as client:
        yield client


@pytest.fixture
def driver(bot: PlaygroundBot, fake: FakeDiscord) -> Iterator[InteractionDriver]:
    with InteractionDriver(bot, fake, user=FakeUser(4242, "alice")) as member:
        yield member


# -- login, auth, headers ---------------------------------------------------------------


async def test_login_fills_user_and_application(bot: PlaygroundBot, fake: FakeDiscord) -> None:
    assert bot.user is not None and bot.user.id == fake.application_id and bot.user.bot
    assert bot.application_id == fake.application_id
    assert [(c.route, c.status) for c in fake.calls()] == [
        ("GET /users/@me", 200),
        ("GET /oauth2/applications/@me", 200),
    ]


async def test_wrong_token_is_a_login_failure(fake: FakeDiscord) -> None:
    client = discord.Client(intents=discord.Intents.none())
    with discord_api_base(fake.api_base):
        with pytest.raises(discord.LoginFailure):
            await client.login("not-the-token")
        await client.close()
    assert fake.count("GET /users/@me", 401) == 1


async def test_answers_are_exact_json_with_rate_limit_headers(fake: FakeDiscord) -> None:
    auth = {"Authorization": f"Bot {fake.token}"}
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{fake.api_base}/users/@me", headers=auth) as first:
            assert first.headers["Content-Type"] == "application/json"
            assert (await first.json())["id"] == str(fake.application_id)
        async with session.get(f"{fake.api_base}/users/@me", headers=auth) as second:
            remaining = int(second.headers["X-RateLimit-Remaining"])
        async with session.get(f"{fake.api_base}/users/@me") as anonymous:
            body = await anonymous.json()
        async with session.get(f"{fake.api_base}/nowhere", headers=auth) as unknown:
            unknown_body = await unknown.json()
    assert int(first.headers["X-RateLimit-Limit"]) == 50
    assert int(first.headers["X-RateLimit-Remaining"]) == 49 and remaining == 48
    assert 0 < float(first.headers["X-RateLimit-Reset-After"]) <= 1.0
    assert float(first.headers["X-RateLimit-Reset"]) > time.time()
    assert first.headers["X-RateLimit-Bucket"] == second.headers["X-RateLimit-Bucket"]
    assert anonymous.status == 401 and body == {"message": "401: Unauthorized", "code": 0}
    assert unknown.status == 404 and unknown_body["code"] == 0
    assert [c.route for c in fake.calls() if c.status == 404] == [""]


def test_fault_routes_must_exist(fake: FakeDiscord) -> None:
    with pytest.raises(ValueError, match="does not serve"):
        fake.force_429("POST /channels/{channel_id}/mesages")
    fake.force_429("POST /channels/{id}/messages")  # placeholder names do not matter


# -- commands -----------------------------------------------------------------------------


async def test_tree_sync_is_recorded_and_keeps_ids(bot: PlaygroundBot, fake: FakeDiscord) -> None:
    synced = await bot.tree.sync()
    stored = {c["name"]: c for c in fake.commands()}
    assert set(stored) == {"ping", "slow", "share", "vote", "announce", "boom", "admin"}
    assert {c.name: c.id for c in synced} == {name: int(c["id"]) for name, c in stored.items()}
    sent = fake.calls("PUT /applications/{application_id}/commands")[0].request
    share = next(c for c in sent if c["name"] == "share")
    assert [(o["name"], o["type"]) for o in share["options"]] == [
        ("url", 3),
        ("count", 4),
        ("private", 5),
        ("who", 6),
    ]
    assert share["options"][0]["autocomplete"] is True
    admin = next(c for c in sent if c["name"] == "admin")
    assert admin["options"][0] == {**admin["options"][0], "type": 1, "name": "config"}

    again = await bot.tree.sync()
    assert {c.id for c in again} == {c.id for c in synced}

    guild = discord.Object(fake.guild_id)
    bot.tree.copy_global_to(guild=guild)
    await bot.tree.sync(guild=guild)
    assert {c["name"] for c in fake.commands(fake.guild_id)} == set(stored)
    assert all(c["guild_id"] == str(fake.guild_id) for c in fake.commands(fake.guild_id))


async def test_guild_scoped_commands_are_found(
    bot: PlaygroundBot, driver: InteractionDriver, fake: FakeDiscord
) -> None:
    guild = discord.Object(fake.guild_id)
    bot.tree.copy_global_to(guild=guild)
    await bot.tree.sync(guild=guild)
    handle = await driver.slash("ping")
    guild_ping = next(c for c in fake.commands(fake.guild_id) if c["name"] == "ping")
    assert handle.payload["data"]["guild_id"] == str(fake.guild_id)
    assert handle.payload["data"]["id"] == guild_ping["id"]
    assert (await handle.response()).content == "pong"


async def test_ping_replies_ephemerally(driver: InteractionDriver, fake: FakeDiscord) -> None:
    handle = await driver.slash("ping")
    reply = await handle.response()
    assert (reply.type, reply.content, reply.ephemeral) == (4, "pong", True)
    message = await handle.original()
    assert message["flags"] & 64 and message["author"]["id"] == str(fake.application_id)
    assert message["interaction_metadata"]["user"]["id"] == "4242"
    assert fake.messages(fake.channel_id, include_ephemeral=False) == []
    assert handle.payload["data"]["name"] == "ping"


async def test_deferred_command_follows_up_and_edits(
    driver: InteractionDriver, fake: FakeDiscord
) -> None:
    handle = await driver.slash("slow")
    await handle.finished()
    reply = await handle.response()
    assert (reply.type, reply.ephemeral) == (5, False)
    [note] = await handle.followups()
    versions = fake.history(fake.channel_id, int(note["id"]))
    assert [v.message["content"] for v in versions] == ["working…", "done"]
    embed = versions[1].message["embeds"][0]
    assert (embed["type"], embed["title"], embed["description"]) == ("rich", "Import", "3/3")
    assert versions[1].route == "PATCH /webhooks/{webhook_id}/{webhook_token}/messages/{message_id}"
    original = await handle.original()
    assert original["content"] == "finished" and not original["flags"] & 128


async def test_autocomplete_answers_choices(driver: InteractionDriver, fake: FakeDiscord) -> None:
    handle = await driver.autocomplete("share", {"url": "youtube"}, focused="url")
    reply = await handle.response()
    assert reply.type == 8 and [c["value"] for c in reply.choices] == [SONGS[1]]
    everything = await (await driver.autocomplete("share", {"url": ""}, focused="url")).response()
    assert [c["value"] for c in everything.choices] == SONGS
    assert fake.messages(fake.channel_id) == []
    focused = handle.payload["data"]["options"][0]
    assert focused == {"name": "url", "type": 3, "value": "youtube", "focused": True}


async def test_options_are_typed_from_the_tree(driver: InteractionDriver) -> None:
    bob = FakeUser(777, "bob")
    handle = await driver.slash("share", {"url": "u", "count": 3, "private": True, "who": bob})
    reply = await handle.response()
    assert (reply.content, reply.ephemeral) == ("u x3 for bob", True)
    options = handle.payload["data"]["options"]
    assert [(o["name"], o["type"]) for o in options] == [
        ("url", 3),
        ("count", 4),
        ("private", 5),
        ("who", 6),
    ]
    assert handle.payload["data"]["resolved"]["users"]["777"]["username"] == "bob"


async def test_button_press_edits_its_message(driver: InteractionDriver, fake: FakeDiscord) -> None:
    started = await driver.slash("vote")
    message = await started.original()
    button = message["components"][0]["components"][0]
    assert (button["custom_id"], button["label"]) == ("vote:up", "Upvote")

    press = await driver.press(int(message["id"]), "vote:up")
    reply = await press.response()
    assert (reply.type, reply.content) == (7, "votes: 1")
    versions = fake.history(fake.channel_id, int(message["id"]))
    assert [v.message["content"] for v in versions] == ["votes: 0", "votes: 1"]
    assert versions[-1].message["components"] == []
    assert press.payload["message"]["id"] == message["id"]


async def test_channel_post_is_sent_then_edited(
    driver: InteractionDriver, fake: FakeDiscord
) -> None:
    handle = await driver.slash("announce", {"text": "hello"})
    await handle.finished()
    [posted] = fake.messages(fake.channel_id, include_ephemeral=False)
    assert posted["content"] == "hello (edited)" and posted["edited_timestamp"] is not None
    assert posted["author"]["id"] == str(fake.application_id)
    versions = fake.history(fake.channel_id, int(posted["id"]))
    assert [(v.action, v.body["content"]) for v in versions] == [
        ("create", "hello"),
        ("edit", "hello (edited)"),
    ]
    assert (await handle.response()).ephemeral


async def test_manage_server_permission_reaches_checks(driver: InteractionDriver) -> None:
    denied = await (await driver.slash("admin", group=None, subcommand="config")).response()
    assert (denied.content, denied.ephemeral) == ("You need Manage Server.", True)
    allowed = await driver.slash(
        "admin", subcommand="config", permissions=MEMBER_PERMISSIONS | MANAGE_GUILD
    )
    assert (await allowed.response()).content == "configured"


async def test_a_crashing_command_is_reported_on_timeout(driver: InteractionDriver) -> None:
    handle = await driver.slash("boom")
    await handle.finished()
    with pytest.raises(TimeoutError, match="boom in the handler"):
        await handle.response(within=0.1)


# -- rate limits and faults --------------------------------------------------------------


async def test_forced_429_is_waited_out_then_retried(bot: PlaygroundBot, fake: FakeDiscord) -> None:
    fake.force_429(POST_MESSAGE, retry_after=0.3)
    sent = await bot.get_partial_messageable(fake.channel_id).send("once")
    limited, accepted = fake.calls(POST_MESSAGE)
    assert (limited.status, accepted.status) == (429, 200)
    assert accepted.at - limited.at >= 0.3
    assert limited.response == {
        "message": "You are being rate limited.",
        "retry_after": 0.3,
        "global": False,
        "code": 0,
    }
    assert limited.headers["Retry-After"] == "1" and limited.headers["Via"]
    assert limited.headers["X-RateLimit-Scope"] == "user"
    assert [m["id"] for m in fake.messages(fake.channel_id)] == [str(sent.id)]


async def test_interaction_callback_429_is_retried(
    driver: InteractionDriver, fake: FakeDiscord
) -> None:
    fake.force_429(CALLBACK, retry_after=0.1)
    reply = await (await driver.slash("ping")).response()
    assert reply.content == "pong"
    assert [c.status for c in fake.calls(CALLBACK)] == [429, 200]


async def test_429_without_via_is_not_retried(bot: PlaygroundBot, fake: FakeDiscord) -> None:
    fake.force_429(POST_MESSAGE, retry_after=0.1, via=False)
    with pytest.raises(discord.HTTPException) as raised:
        await bot.get_partial_messageable(fake.channel_id).send("blocked")
    assert raised.value.status == 429
    assert fake.messages(fake.channel_id) == [] and fake.count(POST_MESSAGE) == 1


async def test_exhausted_bucket_makes_discord_py_wait(
    bot: PlaygroundBot, fake: FakeDiscord
) -> None:
    fake.set_rate_limit(POST_MESSAGE, limit=2, window=0.4)
    channel = bot.get_partial_messageable(fake.channel_id)
    for n in range(3):
        await channel.send(f"message {n}")
    calls = fake.calls(POST_MESSAGE)
    assert [c.status for c in calls] == [200, 200, 200]
    assert calls[1].headers["X-RateLimit-Remaining"] == "0"
    assert calls[2].at - calls[0].at >= 0.35
    assert len(fake.messages(fake.channel_id)) == 3


async def test_client_ignoring_headers_gets_429(fake: FakeDiscord) -> None:
    fake.set_rate_limit("GET /users/@me", limit=1, window=5)
    auth = {"Authorization": f"Bot {fake.token}"}
    async with aiohttp.ClientSession() as session:
        for _ in range(2):
            async with session.get(f"{fake.api_base}/users/@me", headers=auth) as answer:
                status, body = answer.status, await answer.json()
    assert status == 429 and body["global"] is False and 4 < body["retry_after"] <= 5


async def test_deleted_message_edit_is_not_found(bot: PlaygroundBot, fake: FakeDiscord) -> None:
    sent = await bot.get_partial_messageable(fake.channel_id).send("soon gone")
    fake.delete_message(fake.channel_id, sent.id)
    with pytest.raises(discord.NotFound) as raised:
        await sent.edit(content="too late")
    assert raised.value.code == 10008


async def test_edit_of_hour_old_message_is_30046(bot: PlaygroundBot, fake: FakeDiscord) -> None:
    channel = bot.get_partial_messageable(fake.channel_id)
    recent, old = await channel.send("recent"), await channel.send("old")
    fake.age_message(fake.channel_id, recent.id, 59 * 60)
    fake.age_message(fake.channel_id, old.id, 3601)
    await recent.edit(content="recent, edited")
    with pytest.raises(discord.HTTPException) as raised:
        await old.edit(content="old, edited")
    assert (raised.value.status, raised.value.code) == (400, 30046)
    assert [v.message["content"] for v in fake.history(fake.channel_id, old.id)] == ["old"]


async def test_a_reply_references_its_message_or_is_refused(
    bot: PlaygroundBot, fake: FakeDiscord
) -> None:
    channel = bot.get_partial_messageable(fake.channel_id)
    first = await channel.send("progress")
    reply = await channel.send("done", reference=first)
    assert reply.type is discord.MessageType.reply
    assert reply.reference is not None and reply.reference.message_id == first.id
    [plain] = fake.messages(fake.channel_id, include_replies=False)
    assert plain["id"] == str(first.id)
    fake.delete_message(fake.channel_id, first.id)
    with pytest.raises(discord.HTTPException) as refused:
        await channel.send("late", reference=first)  # discord.py: fail_if_not_exists=True
    assert (refused.value.status, refused.value.code) == (400, 50035)
    lenient = first.to_reference(fail_if_not_exists=False)
    kept = await channel.send("late but sent", reference=lenient)
    assert kept.type is discord.MessageType.default and kept.reference is None


async def test_denied_channel_is_forbidden(bot: PlaygroundBot, fake: FakeDiscord) -> None:
    fake.deny_channel(fake.channel_id)
    with pytest.raises(discord.Forbidden) as raised:
        await bot.get_partial_messageable(fake.channel_id).send("hi")
    assert raised.value.code == 50001


async def test_server_errors(bot: PlaygroundBot, fake: FakeDiscord) -> None:
    channel = bot.get_partial_messageable(fake.channel_id)
    fake.force_error(POST_MESSAGE, 503)
    with pytest.raises(discord.DiscordServerError):
        await channel.send("unavailable")
    fake.force_error(POST_MESSAGE, 500)  # discord.py retries 500s after a second
    await channel.send("retried")
    assert [c.status for c in fake.calls(POST_MESSAGE)] == [503, 500, 200]
    assert [m["content"] for m in fake.messages(fake.channel_id)] == ["retried"]


async def test_delay_slows_the_answer(bot: PlaygroundBot, fake: FakeDiscord) -> None:
    fake.delay("GET /channels/{channel_id}", 0.2)
    started = time.monotonic()
    channel = await bot.fetch_channel(fake.channel_id)
    assert time.monotonic() - started >= 0.2
    assert isinstance(channel, discord.TextChannel) and channel.name == "general"


async def test_invalid_bodies_are_rejected(fake: FakeDiscord) -> None:
    http = HTTPClient(asyncio.get_running_loop())
    with discord_api_base(fake.api_base):
        await http.static_login(fake.token)
        try:
            with (
                handle_message_parameters(content="x" * 2001) as params,
                pytest.raises(discord.HTTPException) as too_long,
            ):
                await http.send_message(fake.channel_id, params=params)
            with (
                handle_message_parameters(content="") as params,
                pytest.raises(discord.HTTPException) as empty,
            ):
                await http.send_message(fake.channel_id, params=params)
        finally:
            await http.close()
    assert too_long.value.code == 50035 and empty.value.code == 50006
    assert fake.messages(fake.channel_id) == []


# -- interaction protocol ------------------------------------------------------------------


async def test_interaction_protocol_errors(fake: FakeDiscord) -> None:
    user = FakeUser(1, "u").payload()
    ticket = fake.issue_interaction(
        2, channel_id=fake.channel_id, guild_id=fake.guild_id, user=user, name="x"
    )
    late = fake.issue_interaction(
        2, channel_id=fake.channel_id, guild_id=fake.guild_id, user=user, name="x"
    )
    fake.age_interaction(late.id, 4)
    callback = f"{fake.api_base}/interactions/{{}}/{{}}/callback"
    webhook = f"{fake.api_base}/webhooks/{fake.application_id}/{ticket.token}"
    reply = {"type": 4, "data": {"content": "hi"}}
    async with aiohttp.ClientSession() as session:

        async def post(url: str, body: Any) -> tuple[int, int]:
            """Status and Discord error code (0 when the answer is not an error)."""
            async with session.post(url, json=body) as answer:
                payload = await answer.json() if answer.status != 204 else {}
                return answer.status, payload.get("code", 0)

        assert await post(f"{webhook}?wait=true", {"content": "early"}) == (404, 10015)
        assert await post(callback.format(ticket.id, "wrong"), reply) == (404, 10062)
        assert await post(callback.format(late.id, late.token), reply) == (404, 10062)
        assert await post(callback.format(ticket.id, ticket.token), reply) == (204, 0)
        assert await post(callback.format(ticket.id, ticket.token), reply) == (400, 40060)
        assert await post(f"{webhook}?wait=true", {"content": "later"}) == (200, 0)
        fake.age_interaction(ticket.id, 15 * 60 + 1)
        assert await post(f"{webhook}?wait=true", {"content": "expired"}) == (401, 50027)
    assert [m["content"] for m in fake.followups(ticket.token)] == ["later"]


# -- the worker's path: HTTPClient without a gateway ----------------------------------------


async def test_standalone_http_client_posts_and_edits(fake: FakeDiscord) -> None:
    http = HTTPClient(asyncio.get_running_loop())
    with discord_api_base(fake.api_base):
        me = await http.static_login(fake.token)
        try:
            with handle_message_parameters(content="importing 0/10") as params:
                posted = await http.send_message(fake.channel_id, params=params)
            embed = discord.Embed(title="Import", description="10/10")
            with handle_message_parameters(content="imported", embed=embed) as params:
                edited = await http.edit_message(fake.channel_id, posted["id"], params=params)
            fetched = await http.get_message(fake.channel_id, posted["id"])
        finally:
            await http.close()
    assert me["id"] == str(fake.application_id)
    assert edited == fetched and fetched["content"] == "imported"
    assert fetched["embeds"][0]["description"] == "10/10"
    assert fake.count(EDIT_MESSAGE, 200) == 1


def test_wait_for_sees_edits_from_another_thread(fake: FakeDiscord) -> None:
    """The shape of a worker test: something else edits; the test waits for the state."""
    posted: list[str] = []

    async def worker() -> None:
        http = HTTPClient(asyncio.get_running_loop())
        await http.static_login(fake.token)
        try:
            with handle_message_parameters(content="0/3") as params:
                message = await http.send_message(fake.channel_id, params=params)
            posted.append(str(message["id"]))
            for n in range(1, 4):
                with handle_message_parameters(content=f"{n}/3") as params:
                    await http.edit_message(fake.channel_id, message["id"], params=params)
        finally:
            await http.close()

    with discord_api_base(fake.api_base):
        thread = threading.Thread(target=asyncio.run, args=(worker(),))
        thread.start()
        done = fake.wait_for(
            lambda: [m for m in fake.messages(fake.channel_id) if m["content"] == "3/3"]
        )
        thread.join(5)
    assert done[0]["id"] == posted[0]
    assert len(fake.history(fake.channel_id, int(posted[0]))) == 4
    with pytest.raises(TimeoutError, match="last calls"):
        fake.wait_for(lambda: fake.count(POST_MESSAGE) > 1, timeout=0.05)
