"""The fake Discord gateway, exercised by the real discord.py and the real bot process.

A `commands.Bot` runs `bot.start()` against the fake (REST login, then the websocket):
it must become ready with the fake's guild cached, keep its heartbeat acknowledged,
RESUME after a RECONNECT and answer slash commands that arrive as INTERACTION_CREATE
dispatches. Raw websocket tests pin the wire protocol discord.py relies on, and one test
runs `bot/__main__.py` in a subprocess, as the offline demo does.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import zlib
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import discord
import pytest
from cryptography.fernet import Fernet
from discord.ext import commands

from devtools.stack import free_port
from fakes.discord_api import FakeDiscord
from fakes.discord_gateway import SYNC_FLUSH_SUFFIX, Close, Op
from fakes.interactions import FakeUser, InteractionDriver, discord_api_base
from tests.contract.openapi import load_vendor_spec, response_schema, validation_errors
from tests.fakes.test_discord_fake import Playground
from tests.waiting import async_wait_until

T = TypeVar("T")
REPO_ROOT = Path(__file__).resolve().parents[2]
HEARTBEAT_MS = 100
GUILDS = discord.Intents(guilds=True)


class GatewayBot(commands.Bot):
    """The playground cog on a bot that connects for real; events mark its progress."""

    def __init__(self) -> None:
        # guild_ready_timeout: on_ready waits this long after the last GUILD_CREATE.
        super().__init__(command_prefix="!", intents=GUILDS, guild_ready_timeout=0.1)
        self.ready = asyncio.Event()
        self.resumed = asyncio.Event()

    async def setup_hook(self) -> None:
        await self.add_cog(Playground())
        await self.tree.sync()

    async def on_ready(self) -> None:
        self.ready.set()

    async def on_resumed(self) -> None:
        self.resumed.set()


@pytest.fixture
def fake() -> Iterator[FakeDiscord]:
    with FakeDiscord(heartbeat_interval=HEARTBEAT_MS) as server:
        yield server


async def _until(event: asyncio.Event, runner: asyncio.Task[None], within: float) -> None:
    """Wait for `event`, failing fast with the error if `bot.start()` ends first."""
    waiter = asyncio.create_task(event.wait())
    done, _ = await asyncio.wait({waiter, runner}, timeout=within, return_when="FIRST_COMPLETED")
    waiter.cancel()
    if runner in done:
        runner.result()
        raise AssertionError("bot.start() returned before the event")
    if waiter not in done:
        raise TimeoutError(f"event not set within {within}s")


@asynccontextmanager
async def started(bot: GatewayBot, fake: FakeDiscord) -> AsyncIterator[asyncio.Task[None]]:
    """Run `bot.start()` against the fake until `on_ready`; close it afterwards."""
    with discord_api_base(fake.api_base):
        runner = asyncio.create_task(bot.start(fake.token))
        try:
            await _until(bot.ready, runner, within=5)
            yield runner
        finally:
            await bot.close()
            await asyncio.wait_for(runner, 5)


@pytest.fixture
async def bot(fake: FakeDiscord) -> AsyncIterator[GatewayBot]:
    client = GatewayBot()
    async with started(client, fake):
        yield client


async def _poll(probe: Callable[[], T | None], within: float = 5.0) -> T:
    """`probe()` once truthy, checked every 20 ms until the deadline."""
    result: T = await async_wait_until(
        probe, timeout=within, interval=0.02, message=f"condition not met within {within}s"
    )
    return result


# -- the real discord.py client ------------------------------------------------------------


async def test_bot_start_connects_and_caches_the_guild(bot: GatewayBot, fake: FakeDiscord) -> None:
    assert bot.user is not None and bot.user.id == fake.application_id
    guild = bot.get_guild(fake.guild_id)
    assert guild is not None and not guild.unavailable and guild.member_count == 2
    channel = guild.get_channel(fake.channel_id)
    assert isinstance(channel, discord.TextChannel) and channel.name == "general"
    assert guild.me is not None and guild.default_role.id == fake.guild_id
    [session] = fake.gateway_sessions()
    assert session.intents == GUILDS.value and session.properties["browser"] == "discord.py"
    sent = [(f.event, f.seq) for f in fake.gateway_frames(op=Op.DISPATCH)]
    assert sent == [("READY", 1), ("GUILD_CREATE", 2)]
    assert fake.count("GET /users/@me", 200) == 1  # login came first, over REST


async def test_heartbeats_are_acknowledged(bot: GatewayBot, fake: FakeDiscord) -> None:
    await _poll(lambda: len(fake.gateway_frames(op=Op.HEARTBEAT)) >= 2)
    await _poll(lambda: len(fake.gateway_frames(op=Op.HEARTBEAT_ACK)) >= 2)
    assert fake.gateway_sessions()[0].heartbeats >= 2
    assert bot.latency < 5  # discord.py measured a HEARTBEAT -> ACK round trip


async def test_slash_command_over_the_gateway_is_answered(
    bot: GatewayBot, fake: FakeDiscord
) -> None:
    with InteractionDriver.over_gateway(fake, user=FakeUser(4242, "alice")) as driver:
        ping = await driver.slash("ping")
        reply = await ping.response()
        assert (reply.type, reply.content, reply.ephemeral) == (4, "pong", True)

        bob = FakeUser(777, "bob")
        share = await driver.slash("share", {"url": "u", "count": 3, "private": True, "who": bob})
        assert (await share.response()).content == "u x3 for bob"
    # No local tree: the option types came from the commands the bot synced.
    options = share.payload["data"]["options"]
    assert [(o["name"], o["type"]) for o in options] == [
        ("url", 3),
        ("count", 4),
        ("private", 5),
        ("who", 6),
    ]
    delivered = fake.gateway_frames(event="INTERACTION_CREATE")
    assert [f.data["id"] for f in delivered] == [str(ping.id), str(share.id)]
    assert [f.seq for f in delivered] == [3, 4]


async def test_reconnect_resumes_the_session(bot: GatewayBot, fake: FakeDiscord) -> None:
    [before] = fake.gateway_sessions()
    assert fake.reconnect_gateway() == 1
    await asyncio.wait_for(bot.resumed.wait(), 5)
    [after] = fake.gateway_sessions()
    assert after.session_id == before.session_id and after.resumes == 1
    assert after.connection != before.connection
    [resume] = fake.gateway_frames(op=Op.RESUME)
    assert resume.data["seq"] == 2 and resume.data["session_id"] == before.session_id
    with InteractionDriver.over_gateway(fake) as driver:
        assert (await (await driver.slash("ping")).response()).content == "pong"


async def test_wrong_token_is_a_login_failure(fake: FakeDiscord) -> None:
    client = GatewayBot()
    with discord_api_base(fake.api_base), pytest.raises(discord.LoginFailure):
        await client.start("not-the-token")
    await client.close()
    assert fake.gateway_frames() == [] and fake.gateway.all_sessions() == []


async def test_discord_py_asking_for_zstd_stops_instead_of_looping(
    fake: FakeDiscord, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With zstandard installed discord.py asks for zstd-stream; the fake refuses once."""
    context = discord.utils._ActiveDecompressionContext
    monkeypatch.setattr(context, "COMPRESSION_TYPE", "zstd-stream")
    with discord_api_base(fake.api_base), pytest.raises(discord.ConnectionClosed) as closed:
        await asyncio.wait_for(GatewayBot().start(fake.token), 5)
    assert closed.value.code == Close.INVALID_API_VERSION
    [refusal] = fake.gateway_frames(direction="send")
    assert "zstd-stream unsupported" in refusal.data["reason"]


def test_dispatch_interaction_needs_a_connected_bot(fake: FakeDiscord) -> None:
    with pytest.raises(LookupError, match="wait_for_gateway_ready"):
        fake.dispatch_interaction({"type": 2, "channel_id": str(fake.channel_id), "data": {}})
    assert fake.dispatch("GUILD_UPDATE", {"id": str(fake.guild_id)}) == 0


# -- REST: where the gateway is ---------------------------------------------------------------


async def test_gateway_routes(fake: FakeDiscord) -> None:
    auth = {"Authorization": f"Bot {fake.token}"}
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{fake.api_base}/gateway") as plain:
            plain_body = await plain.json()
        async with session.get(f"{fake.api_base}/gateway/bot") as anonymous:
            assert anonymous.status == 401
        async with session.get(f"{fake.api_base}/gateway/bot", headers=auth) as answer:
            body = await answer.json()
    url = fake.base_url.replace("http://", "ws://") + "/gateway"
    assert plain_body == {"url": url}
    assert body["url"] == url and body["shards"] == 1
    assert body["session_start_limit"]["remaining"] == body["session_start_limit"]["total"]
    assert [c.status for c in fake.calls("GET /gateway/bot")] == [401, 200]


def test_gateway_answers_match_the_spec(fake: FakeDiscord) -> None:
    spec = load_vendor_spec("discord-openapi.json")

    async def fetch() -> None:
        async with aiohttp.ClientSession() as session:
            for path in ("/gateway", "/gateway/bot"):
                headers = {"Authorization": f"Bot {fake.token}"}
                async with session.get(fake.api_base + path, headers=headers) as answer:
                    await answer.read()

    asyncio.run(fetch())
    for call in fake.calls():
        schema = response_schema(spec, call.route.split(" ", 1)[1], "GET", 200)
        assert validation_errors(spec, schema, call.response) == []


# -- the wire protocol, with a raw websocket -----------------------------------------------------


class RawGateway:
    """A bare client: decompresses the zlib stream with one context, as discord.py does."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.inflate = zlib.decompressobj()
        self.frames: list[bytes] = []

    async def recv(self) -> Any:
        message = await self.ws.receive(timeout=5)
        if message.type is aiohttp.WSMsgType.BINARY:
            assert message.data.endswith(SYNC_FLUSH_SUFFIX)
            self.frames.append(message.data)
            return json.loads(self.inflate.decompress(message.data))
        if message.type is aiohttp.WSMsgType.TEXT:
            return json.loads(message.data)
        raise AssertionError(f"expected a payload, got {message.type.name} {message.data}")

    async def send(self, op: int, data: Any) -> None:
        await self.ws.send_str(json.dumps({"op": op, "d": data}))

    async def closed(self) -> tuple[int, str]:
        message = await self.ws.receive(timeout=5)
        assert message.type is aiohttp.WSMsgType.CLOSE, message
        return int(message.data), str(message.extra)

    async def identify(self, token: str) -> None:
        await self.send(Op.IDENTIFY, {"token": token, "intents": 1, "properties": {}})


@asynccontextmanager
async def raw(
    fake: FakeDiscord, query: str = "v=10&encoding=json&compress=zlib-stream"
) -> AsyncIterator[RawGateway]:
    """A raw websocket to the fake's gateway with `query`."""
    async with aiohttp.ClientSession() as session:
        url = f"{fake.base_url.replace('http://', 'ws://')}/gateway?{query}"
        async with session.ws_connect(url) as ws:
            yield RawGateway(ws)


async def test_zlib_stream_identify_heartbeat_and_bad_token(fake: FakeDiscord) -> None:
    async with raw(fake) as gw:
        hello = await gw.recv()
        assert hello["op"] == Op.HELLO and hello["d"]["heartbeat_interval"] == HEARTBEAT_MS
        await gw.send(Op.HEARTBEAT, None)
        assert (await gw.recv())["op"] == Op.HEARTBEAT_ACK
        await gw.identify(fake.token)
        ready, guild = await gw.recv(), await gw.recv()
        assert (ready["t"], ready["s"], guild["t"], guild["s"]) == ("READY", 1, "GUILD_CREATE", 2)
        assert ready["d"]["guilds"] == [{"id": str(fake.guild_id), "unavailable": True}]
        assert ready["d"]["application"] == {"id": str(fake.application_id), "flags": 0}
        assert ready["d"]["resume_gateway_url"].endswith("/gateway")
        assert [c["id"] for c in guild["d"]["channels"]] == [str(fake.channel_id)]
        # One compressor per connection: a fresh inflater cannot read a later frame.
        with pytest.raises(zlib.error):
            zlib.decompressobj().decompress(gw.frames[-1])
        fake.dispatch("CHANNEL_UPDATE", {"id": "1"})
        assert (await gw.recv())["s"] == 3
    async with raw(fake) as gw:
        await gw.recv()
        await gw.identify("wrong")
        assert await gw.closed() == (Close.AUTHENTICATION_FAILED, "Authentication failed.")


async def test_resume_replays_missed_dispatches(fake: FakeDiscord) -> None:
    async with raw(fake) as gw:
        await gw.recv()
        await gw.identify(fake.token)
        session_id = (await gw.recv())["d"]["session_id"]
        await gw.recv()
    await _poll(lambda: not fake.gateway_sessions())  # the client is away ...
    assert fake.dispatch("TYPING_START", {"channel_id": str(fake.channel_id)}) == 1
    async with raw(fake) as gw:
        await gw.recv()
        await gw.send(Op.RESUME, {"token": fake.token, "session_id": session_id, "seq": 2})
        missed, resumed = await gw.recv(), await gw.recv()
        assert (missed["t"], missed["s"]) == ("TYPING_START", 3)
        assert (resumed["t"], resumed["s"]) == ("RESUMED", 4)
    async with raw(fake) as gw:
        await gw.recv()
        await gw.send(Op.RESUME, {"token": fake.token, "session_id": "nope", "seq": 1})
        assert await gw.recv() == {"op": Op.INVALID_SESSION, "d": False, "s": None, "t": None}


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("v=10&encoding=json&compress=zstd-stream", "zstd-stream unsupported"),
        ("v=9&encoding=json", "v=10 only"),
        ("v=10&encoding=etf", "json only"),
    ],
)
async def test_unsupported_connections_are_refused(
    fake: FakeDiscord, query: str, reason: str
) -> None:
    async with raw(fake, query) as gw:
        code, text = await gw.closed()
    # 4012 is one of the codes discord.py does not retry: it stops and reports it.
    assert code == Close.INVALID_API_VERSION and reason in text


@pytest.mark.parametrize(
    ("identified", "op", "code"),
    [
        (False, Op.PRESENCE_UPDATE, Close.NOT_AUTHENTICATED),
        (True, 42, Close.UNKNOWN_OPCODE),
        (True, Op.IDENTIFY, Close.ALREADY_AUTHENTICATED),
    ],
)
async def test_protocol_violations_close_the_connection(
    fake: FakeDiscord, identified: bool, op: int, code: int
) -> None:
    async with raw(fake, "v=10&encoding=json") as gw:
        assert (await gw.recv())["op"] == Op.HELLO  # plain JSON text without compress
        if identified:
            await gw.identify(fake.token)
            assert [(await gw.recv())["t"] for _ in range(2)] == ["READY", "GUILD_CREATE"]
        await gw.send(op, {"token": fake.token, "intents": 1, "properties": {}})
        assert (await gw.closed())[0] == code


# -- the real bot process ----------------------------------------------------------------------


def _log_tail(path: Path) -> str:
    return path.read_text(errors="replace")[-3000:] if path.exists() else ""


@pytest.mark.engine
async def test_bot_process_answers_about_over_the_gateway(
    fake: FakeDiscord, tmp_path: Path, stack_env: dict[str, str]
) -> None:
    """The real `python -m bot`, configured as the offline demo configures it."""
    env = {
        **os.environ,
        **stack_env,
        "DISCORD_TOKEN": fake.token,
        "DISCORD_API_BASE": fake.api_base,
        "DISCORD_GATEWAY_URL": fake.gateway.url or "",
        "SPOTIFY_CLIENT_ID": "unused-here",
        "SPOTIFY_CLIENT_SECRET": "unused-here",
        "OAUTH_BIND_PORT": str(free_port()),
        "TOKEN_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
        "LOG_LEVEL": "INFO",
    }
    log = tmp_path / "bot.log"
    command = [sys.executable, "-m", "bot"]
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            *command,
            cwd=REPO_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:

        def connected() -> bool:
            if process.returncode is not None:
                raise AssertionError(f"bot exited {process.returncode}:\n{_log_tail(log)}")
            return bool(fake.gateway_sessions())

        try:
            await _poll(connected, within=15)
        except TimeoutError:
            raise AssertionError(f"bot never identified:\n{_log_tail(log)}") from None
        [session] = fake.wait_for_gateway_ready(timeout=1)  # already true: returns at once
        assert session.intents == GUILDS.value
        assert "about" in {c["name"] for c in fake.commands()}

        with InteractionDriver.over_gateway(fake, user=FakeUser(99, "carol")) as driver:
            handle = await driver.slash("about")
            try:
                reply = await handle.response(within=10)
            except TimeoutError:
                raise AssertionError(f"no answer to /about:\n{_log_tail(log)}") from None
        assert reply.type == 4 and reply.ephemeral
        assert [e["title"] for e in reply.embeds] == ["Mixtape"]
        assert process.returncode is None
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), 5)
            except TimeoutError:
                process.kill()
                await asyncio.wait_for(process.wait(), 5)
