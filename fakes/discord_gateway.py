"""A fake Discord gateway (v10) on the fake REST API's own aiohttp app.

`bot.start(token)` logs in over REST and then holds a websocket to the gateway, which is
the only way Discord delivers INTERACTION_CREATE to a bot that has no interactions URL.
This module serves that websocket so the real bot process can run offline: HELLO,
IDENTIFY (token checked, close 4004 otherwise), READY plus one GUILD_CREATE per guild of
the fake, HEARTBEAT/ACK, RESUME (missed dispatches replayed) or INVALID_SESSION, and
dispatches that tests or the demo driver inject from any thread:

    with FakeDiscord() as fake:                    # a bot runs elsewhere against it
        fake.wait_for_gateway_ready(timeout=10)
        ticket = fake.dispatch_interaction(payload)    # minted, then sent as op 0
        assert fake.gateway_frames(op=1)                # heartbeats seen

Payloads go out as JSON, zlib-compressed through ONE `compressobj` per connection and
`Z_SYNC_FLUSH`ed when the client asks for `compress=zlib-stream` (discord.py does when no
zstd library is installed). `zstd-stream` is refused with close code 4012: discord.py
picks zstd by itself whenever `zstandard`/`compression.zstd` imports, with no option to
ask for zlib, and 4012 is one of the codes it does not retry, so it stops with a reason
instead of reconnecting in a loop.

discord.py's `Client` never asks `GET /gateway/bot` where the gateway is: it connects to
`DiscordWebSocket.DEFAULT_GATEWAY` (wss://gateway.discord.gg/). `point_discord_py_at`
redirects that for in-process clients; the bot process reads `DISCORD_GATEWAY_URL`.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import itertools
import json
import secrets
import threading
import time
import zlib
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit, urlunsplit

from aiohttp import WSMsgType, web

from fakes.discord_models import JSON, ApiError, iso
from fakes.discord_records import InteractionTicket
from fakes.discord_routes import API_PREFIX, Ctx, Handler, Reply, _endpoint
from fakes.discord_store import DiscordStore

__all__ = [
    "DEFAULT_HEARTBEAT_INTERVAL",
    "GATEWAY_PATH",
    "Close",
    "GatewayFrame",
    "GatewayHub",
    "GatewayMixin",
    "GatewaySession",
    "Op",
    "gateway_url_for",
    "point_discord_py_at",
    "register_interaction",
]

T = TypeVar("T")

DEFAULT_HEARTBEAT_INTERVAL = 41_250  # ms, what Discord sends today
GATEWAY_PATH = "/gateway"
GATEWAY_VERSION = "10"
SESSION_START_TOTAL = 1000
SYNC_FLUSH_SUFFIX = b"\x00\x00\xff\xff"
_SEND_TIMEOUT = 5.0
_CLOSE_TIMEOUT = 2.0  # how long a close waits for the client's answer
_BACKLOG = 1000  # dispatches kept per session for RESUME replay
# @everyone in a fresh server: view, send, embed, attach, history, reactions, app commands.
_EVERYONE_PERMISSIONS = sum(1 << bit for bit in (6, 10, 11, 14, 15, 16, 31))


class Op(IntEnum):
    """Gateway opcodes."""

    DISPATCH = 0
    HEARTBEAT = 1
    IDENTIFY = 2
    PRESENCE_UPDATE = 3
    VOICE_STATE_UPDATE = 4
    RESUME = 6
    RECONNECT = 7
    REQUEST_GUILD_MEMBERS = 8
    INVALID_SESSION = 9
    HELLO = 10
    HEARTBEAT_ACK = 11
    REQUEST_SOUNDBOARD_SOUNDS = 31


# Sent by a client after IDENTIFY; accepted and logged, never answered.
_QUIET_OPS = {
    Op.PRESENCE_UPDATE,
    Op.VOICE_STATE_UPDATE,
    Op.REQUEST_GUILD_MEMBERS,
    Op.REQUEST_SOUNDBOARD_SOUNDS,
}


class Close(IntEnum):
    """Gateway close codes the fake sends (Discord's numbering and meaning)."""

    UNKNOWN_OPCODE = 4001
    DECODE_ERROR = 4002
    NOT_AUTHENTICATED = 4003
    AUTHENTICATION_FAILED = 4004
    ALREADY_AUTHENTICATED = 4005
    INVALID_SHARD = 4010
    INVALID_API_VERSION = 4012
    INVALID_INTENTS = 4013


@dataclass(frozen=True)
class GatewayFrame:
    """One payload on a gateway connection: `recv` from the client or `send` to it.

    A close the fake initiates is logged as `op=-1` with `data={"close": code, "reason": ...}`.
    """

    connection: int
    session_id: str | None
    direction: Literal["recv", "send"]
    op: int
    event: str | None
    seq: int | None
    data: Any
    at: float  # time.monotonic()


@dataclass(frozen=True)
class GatewaySession:
    """A snapshot of an identified session (resumable across connections)."""

    session_id: str
    connection: int | None  # the websocket serving it; None while the client is away
    seq: int  # last sequence number sent
    intents: int
    shard: tuple[int, int] | None
    properties: JSON
    resumes: int
    heartbeats: int


def gateway_url_for(api_base: str) -> str:
    """`http://127.0.0.1:PORT/api/v10` -> `ws://127.0.0.1:PORT/gateway` (the fake's layout)."""
    parts = urlsplit(api_base)
    scheme = "wss" if parts.scheme == "https" else "ws"
    return urlunsplit((scheme, parts.netloc, GATEWAY_PATH, "", ""))


def point_discord_py_at(gateway_url: str) -> str:
    """Make discord.py's `Client.connect` use `gateway_url`; returns the previous URL.

    discord.py reads the class attribute on every fresh IDENTIFY (and after
    INVALID_SESSION), so setting it once before `start()` is enough.
    """
    import yarl
    from discord.gateway import DiscordWebSocket

    previous = str(DiscordWebSocket.DEFAULT_GATEWAY)
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)
    return previous


def register_interaction(store: DiscordStore, payload: JSON) -> InteractionTicket:
    """Mint an interaction's id and token from its payload, as `InteractionDriver` does.

    The store then accepts `/interactions/{id}/{token}/callback` and the webhook routes
    for it; the caller puts `id` and `token` into what it delivers.
    """
    data = payload.get("data") or {}
    member = payload.get("member")
    user = member["user"] if isinstance(member, dict) else payload.get("user")
    message = payload.get("message")
    guild_id = payload.get("guild_id")
    return store.issue_interaction(
        int(payload["type"]),
        channel_id=int(payload["channel_id"]),
        guild_id=int(guild_id) if guild_id is not None else None,
        user=user or {},
        name=str(data.get("name") or data.get("custom_id") or ""),
        message_id=int(message["id"]) if isinstance(message, dict) else None,
    )


class _Connection:
    """One websocket: its compressor (shared by every payload) and write lock."""

    def __init__(self, number: int, ws: web.WebSocketResponse, compress: bool) -> None:
        self.number = number
        self.ws = ws
        self.loop = asyncio.get_running_loop()
        self.compressor = zlib.compressobj() if compress else None
        self.lock = asyncio.Lock()
        self.session: _Session | None = None
        self.heartbeats = 0

    async def write(self, payload: JSON) -> None:
        """Encode (and compress) one payload; the lock keeps frames in call order."""
        text = json.dumps(payload, separators=(",", ":"))
        async with self.lock:
            if self.compressor is None:
                await self.ws.send_str(text)
            else:
                body = self.compressor.compress(text.encode())
                await self.ws.send_bytes(body + self.compressor.flush(zlib.Z_SYNC_FLUSH))


@dataclass
class _Session:
    session_id: str
    intents: int
    shard: tuple[int, int] | None
    properties: JSON
    lock: asyncio.Lock
    seq: int = 0
    connection: _Connection | None = None
    resumes: int = 0
    heartbeats: int = 0
    ready: bool = False
    backlog: list[JSON] = field(default_factory=list)


class GatewayHub:
    """Every gateway connection and session of one fake Discord.

    The websockets live on the server's loop; tests call in from their own thread or
    loop, so public methods hop onto the server loop and read snapshots under a lock.
    """

    def __init__(
        self, store: DiscordStore, *, heartbeat_interval: int = DEFAULT_HEARTBEAT_INTERVAL
    ) -> None:
        self.store = store
        self.heartbeat_interval = heartbeat_interval  # ms; read at each HELLO
        self.url: str | None = None  # ws://127.0.0.1:PORT/gateway once the server runs
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._numbers = itertools.count(1)
        self._connections: dict[int, _Connection] = {}
        self._sessions: dict[str, _Session] = {}
        self._frames: list[GatewayFrame] = []
        self._starts = 0

    # -- wiring -------------------------------------------------------------------------

    def install(self, app: web.Application) -> None:
        """Add `GET /gateway`, `GET /gateway/bot` and the websocket route to `app`."""
        for method, path, handler, bot_auth in self.rest_routes():
            route = f"{method} {path}"
            app.router.add_route(method, API_PREFIX + path, _endpoint(route, handler, bot_auth))
        app.router.add_get(GATEWAY_PATH, self._serve)
        app.on_startup.append(self._bind_loop)
        app.on_shutdown.append(self._close_all)

    def bind(self, base_url: str) -> None:
        """Learn the server's `http://127.0.0.1:PORT` once it listens."""
        self.url = gateway_url_for(base_url)

    def rest_routes(self) -> list[tuple[str, str, Handler, bool]]:
        """The REST side, run through the fake's usual auth/fault/bucket/log pipeline."""
        return [
            ("GET", "/gateway", self._get_gateway, False),  # Discord serves it without auth
            ("GET", "/gateway/bot", self._get_gateway_bot, True),
        ]

    def _get_gateway(self, store: DiscordStore, ctx: Ctx) -> Reply:
        return 200, {"url": self._url()}

    def _get_gateway_bot(self, store: DiscordStore, ctx: Ctx) -> Reply:
        with self._lock:
            remaining = max(SESSION_START_TOTAL - self._starts, 0)
        limit = {
            "total": SESSION_START_TOTAL,
            "remaining": remaining,
            "reset_after": 86_400_000,
            "max_concurrency": 1,
        }
        return 200, {"url": self._url(), "shards": 1, "session_start_limit": limit}

    def _url(self) -> str:
        if self.url is None:
            raise ApiError(500, 0, "500: gateway URL unknown (server not bound)")
        return self.url

    async def _bind_loop(self, app: web.Application) -> None:
        self._loop = asyncio.get_running_loop()

    async def _close_all(self, app: web.Application) -> None:
        """Close websockets on shutdown; aiohttp would otherwise wait for them to end."""
        with self._lock:
            connections = list(self._connections.values())
        for conn in connections:
            await conn.ws.close(code=1001, message=b"fake Discord is shutting down")

    # -- what tests use -------------------------------------------------------------------

    def sessions(self) -> list[GatewaySession]:
        """Identified sessions with a live connection, oldest first."""
        with self._lock:
            return [
                self._snapshot(s)
                for s in self._sessions.values()
                if s.ready and s.connection is not None
            ]

    def all_sessions(self) -> list[GatewaySession]:
        """Every session ever identified, connected or not."""
        with self._lock:
            return [self._snapshot(s) for s in self._sessions.values()]

    def frames(
        self, *, op: int | None = None, event: str | None = None, direction: str | None = None
    ) -> list[GatewayFrame]:
        """Logged payloads, oldest first, filtered by opcode, event name or direction."""
        with self._lock:
            found = [
                f
                for f in self._frames
                if (op is None or f.op == op)
                and (event is None or f.event == event)
                and (direction is None or f.direction == direction)
            ]
        return copy.deepcopy(found)

    def wait_until_ready(self, timeout: float = 10.0) -> list[GatewaySession]:
        """Block until a session is identified and its READY and GUILD_CREATEs are sent."""
        return self.store.wait_for(lambda: self.sessions() or None, timeout)

    async def async_wait_until_ready(self, within: float = 10.0) -> list[GatewaySession]:
        """`wait_until_ready` for a loop that must keep running (an in-process bot's)."""
        return await self.store.async_wait_for(lambda: self.sessions() or None, within)

    def dispatch(self, event: str, data: JSON) -> int:
        """Send an op-0 `event` to every identified session; returns how many.

        A session whose client is reconnecting gets it on RESUME. Blocks until written,
        so call it from any thread but the server's.
        """
        with self._lock:
            targets = list(self._sessions.values())
        if not targets:
            return 0
        self._run(self._dispatch_all(targets, event, data))
        return len(targets)

    def dispatch_interaction(self, payload: JSON) -> InteractionTicket:
        """Register an INTERACTION_CREATE with the store, then dispatch it; its ticket.

        `id` and `token` of `payload` are replaced by freshly minted ones.
        """
        with self._lock:
            identified = bool(self._sessions)
        if not identified:
            raise LookupError("no identified gateway session; wait_for_gateway_ready() first")
        ticket = register_interaction(self.store, payload)
        sent = {**copy.deepcopy(payload), "id": str(ticket.id), "token": ticket.token}
        self.dispatch("INTERACTION_CREATE", sent)
        return ticket

    def reconnect(self) -> int:
        """Ask every connected client to reconnect and RESUME (op 7); returns how many."""
        with self._lock:
            conns = [s.connection for s in self._sessions.values() if s.connection is not None]

        async def send_all() -> None:
            for conn in conns:
                await self._send(conn, {"op": Op.RECONNECT, "d": None, "s": None, "t": None})

        self._run(send_all())
        return len(conns)

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run `coro` on the server's loop and wait for it (from any other thread)."""
        loop = self._loop
        if loop is None:
            coro.close()
            raise RuntimeError("the fake Discord is not serving")
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            coro.close()
            raise RuntimeError("call the gateway from a test thread, not the server's loop")
        return asyncio.run_coroutine_threadsafe(coro, loop).result(_SEND_TIMEOUT)

    # -- the websocket --------------------------------------------------------------------

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(timeout=_CLOSE_TIMEOUT)
        await ws.prepare(request)
        problem = _query_problem(request.query)
        conn = _Connection(next(self._numbers), ws, request.query.get("compress") is not None)
        if problem is not None:
            # After the upgrade, so the client sees a close code it will not retry.
            await self._close(conn, Close.INVALID_API_VERSION, problem)
            return ws
        with self._lock:
            self._connections[conn.number] = conn
        try:
            hello = {"heartbeat_interval": self.heartbeat_interval, "_trace": ["fake-gateway"]}
            await self._send(conn, {"op": Op.HELLO, "d": hello, "s": None, "t": None})
            async for message in ws:
                if message.type is WSMsgType.TEXT:
                    await self._receive(conn, message.data)
                else:
                    await self._close(conn, Close.DECODE_ERROR, "Error while decoding payload.")
        finally:
            self._detach(conn)
        return ws

    async def _receive(self, conn: _Connection, text: str) -> None:
        try:
            payload = json.loads(text)
            op = int(payload["op"])
            data = payload.get("d")
        except (ValueError, TypeError, KeyError):
            await self._close(conn, Close.DECODE_ERROR, "Error while decoding payload.")
            return
        self._log(conn, "recv", payload)
        if op == Op.HEARTBEAT:
            self._count_heartbeat(conn)
            await self._send(conn, {"op": Op.HEARTBEAT_ACK, "d": None, "s": None, "t": None})
        elif op in (Op.IDENTIFY, Op.RESUME) and conn.session is not None:
            await self._close(conn, Close.ALREADY_AUTHENTICATED, "Already authenticated.")
        elif op == Op.IDENTIFY:
            await self._identify(conn, data)
        elif op == Op.RESUME:
            await self._resume(conn, data)
        elif conn.session is None:
            await self._close(conn, Close.NOT_AUTHENTICATED, "Not authenticated.")
        elif op not in _QUIET_OPS:
            await self._close(conn, Close.UNKNOWN_OPCODE, "Unknown opcode.")

    async def _identify(self, conn: _Connection, data: Any) -> None:
        if not isinstance(data, dict) or data.get("token") != self.store.token:
            await self._close(conn, Close.AUTHENTICATION_FAILED, "Authentication failed.")
            return
        intents = data.get("intents")
        if not isinstance(intents, int) or isinstance(intents, bool) or intents < 0:
            await self._close(conn, Close.INVALID_INTENTS, "Invalid intent(s).")
            return
        shard = _shard(data.get("shard"))
        if shard is False:
            await self._close(conn, Close.INVALID_SHARD, "Invalid shard.")
            return
        session = _Session(
            session_id=secrets.token_hex(16),
            intents=intents,
            shard=shard or None,
            properties=dict(data.get("properties") or {}),
            lock=asyncio.Lock(),
        )
        guilds = _guilds(self.store, session.shard)  # read the store before taking our lock
        # Lock first: a dispatch from a test waits until READY and GUILD_CREATEs are out.
        async with session.lock:
            with self._lock:
                self._starts += 1
                self._sessions[session.session_id] = session
                self._attach(session, conn)
            await self._deliver(session, "READY", self._ready(session, guilds))
            for guild in guilds:
                await self._deliver(session, "GUILD_CREATE", guild)
        with self._lock:
            session.ready = True
        self.store.notify()

    async def _resume(self, conn: _Connection, data: Any) -> None:
        if not isinstance(data, dict) or data.get("token") != self.store.token:
            await self._close(conn, Close.AUTHENTICATION_FAILED, "Authentication failed.")
            return
        with self._lock:
            session = self._sessions.get(str(data.get("session_id")))
        seq = data.get("seq")
        last = session.seq if session is not None else 0
        if session is None or not isinstance(seq, int) or not 0 <= seq <= last:
            await self._send(conn, {"op": Op.INVALID_SESSION, "d": False, "s": None, "t": None})
            return
        previous = session.connection
        with self._lock:
            self._attach(session, conn)
            session.resumes += 1
        if previous is not None and previous is not conn:
            await previous.ws.close(code=4000, message=b"session resumed elsewhere")
        async with session.lock:
            for frame in [f for f in session.backlog if f["s"] > seq]:
                await self._send(conn, frame)
            await self._deliver(session, "RESUMED", {"_trace": ["fake-gateway"]})
        self.store.notify()

    def _ready(self, session: _Session, guilds: list[JSON]) -> JSON:
        application = self.store.application()
        ready: JSON = {
            "v": int(GATEWAY_VERSION),
            "user": self.store.me(),
            "guilds": [{"id": g["id"], "unavailable": True} for g in guilds],
            "session_id": session.session_id,
            "session_type": "normal",
            "resume_gateway_url": self._url(),
            "application": {"id": application["id"], "flags": application["flags"]},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "_trace": ["fake-gateway"],
        }
        if session.shard is not None:
            ready["shard"] = list(session.shard)
        return ready

    async def _dispatch_all(self, sessions: Sequence[_Session], event: str, data: JSON) -> None:
        for session in sessions:
            async with session.lock:
                await self._deliver(session, event, copy.deepcopy(data))

    async def _deliver(self, session: _Session, event: str, data: JSON) -> None:
        """Number a dispatch, keep it for RESUME, send it if the client is connected.

        Callers hold `session.lock`, so sequence numbers go out in order.
        """
        with self._lock:
            session.seq += 1
            frame = {"op": Op.DISPATCH, "t": event, "s": session.seq, "d": data}
            session.backlog.append(frame)
            del session.backlog[:-_BACKLOG]
            conn = session.connection
        if conn is None:
            return
        # If the client went away meanwhile, the frame waits in the backlog for RESUME.
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self._send(conn, frame)

    async def _send(self, conn: _Connection, payload: JSON) -> None:
        self._log(conn, "send", payload)
        await conn.write(payload)

    async def _close(self, conn: _Connection, code: int, reason: str) -> None:
        self._log(conn, "send", {"op": -1, "d": {"close": code, "reason": reason}})
        await conn.ws.close(code=code, message=reason.encode())

    # -- bookkeeping ------------------------------------------------------------------------

    def _attach(self, session: _Session, conn: _Connection) -> None:
        """Bind a session to a connection (caller holds `_lock`)."""
        session.connection = conn
        session.heartbeats += conn.heartbeats
        conn.session = session

    def _detach(self, conn: _Connection) -> None:
        with self._lock:
            self._connections.pop(conn.number, None)
            if conn.session is not None and conn.session.connection is conn:
                conn.session.connection = None
        self.store.notify()

    def _count_heartbeat(self, conn: _Connection) -> None:
        with self._lock:
            conn.heartbeats += 1
            if conn.session is not None:
                conn.session.heartbeats += 1

    def _log(self, conn: _Connection, direction: Literal["recv", "send"], payload: JSON) -> None:
        with self._lock:
            session = conn.session.session_id if conn.session is not None else None
            self._frames.append(
                GatewayFrame(
                    connection=conn.number,
                    session_id=session,
                    direction=direction,
                    op=int(payload.get("op", -1)),
                    event=payload.get("t"),
                    seq=payload.get("s"),
                    data=payload.get("d"),
                    at=time.monotonic(),
                )
            )
        self.store.notify()

    @staticmethod
    def _snapshot(session: _Session) -> GatewaySession:
        return GatewaySession(
            session_id=session.session_id,
            connection=session.connection.number if session.connection is not None else None,
            seq=session.seq,
            intents=session.intents,
            shard=session.shard,
            properties=dict(session.properties),
            resumes=session.resumes,
            heartbeats=session.heartbeats,
        )


class GatewayMixin:
    """The gateway half of `FakeDiscord`'s API; the class sets `gateway` in `__init__`."""

    gateway: GatewayHub

    def gateway_sessions(self) -> list[GatewaySession]:
        """Sessions that are identified and connected right now."""
        return self.gateway.sessions()

    def wait_for_gateway_ready(self, timeout: float = 10.0) -> list[GatewaySession]:
        """Block until a bot is identified (READY and GUILD_CREATEs sent); its sessions.

        For tests whose bot runs in another process or thread; with an in-process bot use
        `async_wait_for_gateway_ready` (or the bot's own `on_ready`).
        """
        return self.gateway.wait_until_ready(timeout)

    async def async_wait_for_gateway_ready(self, within: float = 10.0) -> list[GatewaySession]:
        """`wait_for_gateway_ready` without blocking the caller's event loop."""
        return await self.gateway.async_wait_until_ready(within)

    def dispatch(self, event: str, data: JSON) -> int:
        """Send the dispatch `event` (op 0) to every identified session; returns how many."""
        return self.gateway.dispatch(event, data)

    def dispatch_interaction(self, payload: JSON) -> InteractionTicket:
        """Mint the interaction in the store, deliver INTERACTION_CREATE; id and token."""
        return self.gateway.dispatch_interaction(payload)

    def gateway_frames(
        self, *, op: int | None = None, event: str | None = None, direction: str | None = None
    ) -> list[GatewayFrame]:
        """Every gateway payload in and out (heartbeats are `op=1`), oldest first."""
        return self.gateway.frames(op=op, event=event, direction=direction)

    def reconnect_gateway(self) -> int:
        """Send op 7 RECONNECT to connected clients, which then RESUME."""
        return self.gateway.reconnect()


def _query_problem(query: Any) -> str | None:
    """Why the connection's `v`/`encoding`/`compress` are unacceptable, or None."""
    version = query.get("v")
    if version != GATEWAY_VERSION:
        return f"Invalid API version: v={version!r}; the fake gateway speaks v=10 only."
    encoding = query.get("encoding", "json")
    if encoding != "json":
        return f"encoding={encoding!r} unsupported: the fake gateway speaks json only."
    compress = query.get("compress")
    if compress == "zstd-stream":
        return (
            "compress=zstd-stream unsupported: the fake gateway speaks zlib-stream"
            " (run the bot where zstandard is not installed)"
        )
    if compress is not None and compress != "zlib-stream":
        return f"compress={compress!r} unsupported: the fake gateway speaks zlib-stream only"
    return None


def _shard(value: Any) -> tuple[int, int] | Literal[False] | None:
    """`[shard_id, num_shards]` from IDENTIFY; None if absent, False if invalid."""
    if value is None:
        return None
    if (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(v, int) for v in value)
        and 0 <= value[0] < value[1]
    ):
        return value[0], value[1]
    return False


def _guilds(store: DiscordStore, shard: tuple[int, int] | None) -> list[JSON]:
    """GUILD_CREATE payloads for every guild the fake knows (of this shard)."""
    with store.lock:
        # No public listing of channels in the store; read it under the store's lock.
        channels = [copy.deepcopy(c) for c in store._channels.values()]
    guild_ids = [store.guild_id, *(int(c["guild_id"]) for c in channels)]
    ordered = list(dict.fromkeys(guild_ids))
    if shard is not None:
        ordered = [g for g in ordered if (g >> 22) % shard[1] == shard[0]]
    return [
        _guild_payload(store, gid, [c for c in channels if c["guild_id"] == str(gid)])
        for gid in ordered
    ]


def _guild_payload(store: DiscordStore, guild_id: int, channels: list[JSON]) -> JSON:
    """A GUILD_CREATE: the guild, @everyone, its text channels and the bot's own member."""
    gid = str(guild_id)
    everyone = {
        "id": gid,
        "name": "@everyone",
        "color": 0,
        "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
        "hoist": False,
        "icon": None,
        "unicode_emoji": None,
        "position": 0,
        "permissions": str(_EVERYONE_PERMISSIONS),
        "managed": False,
        "mentionable": False,
        "flags": 0,
    }
    joined = iso(store.now())
    bot_member: JSON = {
        "user": store.bot_user,
        "roles": [],
        "joined_at": joined,
        "premium_since": None,
        "deaf": False,
        "mute": False,
        "flags": 0,
        "pending": False,
        "nick": None,
        "avatar": None,
        "banner": None,
        "communication_disabled_until": None,
    }
    return {
        "id": gid,
        "name": "Fake Server" if guild_id == store.guild_id else f"Fake Server {gid[-4:]}",
        "icon": None,
        "splash": None,
        "discovery_splash": None,
        "banner": None,
        "description": None,
        "owner_id": store.owner["id"],
        "application_id": None,
        "afk_channel_id": None,
        "afk_timeout": 300,
        "system_channel_id": channels[0]["id"] if channels else None,
        "system_channel_flags": 0,
        "rules_channel_id": None,
        "public_updates_channel_id": None,
        "safety_alerts_channel_id": None,
        "widget_enabled": False,
        "verification_level": 0,
        "default_message_notifications": 1,
        "explicit_content_filter": 0,
        "mfa_level": 0,
        "nsfw_level": 0,
        "premium_tier": 0,
        "premium_subscription_count": 0,
        "premium_progress_bar_enabled": False,
        "preferred_locale": "en-US",
        "vanity_url_code": None,
        "max_members": 500_000,
        "max_video_channel_users": 25,
        "features": [],
        "roles": [everyone],
        "emojis": [],
        "stickers": [],
        # GUILD_CREATE extras
        "joined_at": joined,
        "large": False,
        "unavailable": False,
        "member_count": 2,
        "members": [bot_member],
        "channels": channels,
        "threads": [],
        "voice_states": [],
        "presences": [],
        "stage_instances": [],
        "guild_scheduled_events": [],
        "soundboard_sounds": [],
    }
