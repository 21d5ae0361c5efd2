"""Run an aiohttp application on 127.0.0.1 in a background thread.

The fakes serve other processes (the worker, the bot) and synchronous clients (spotipy)
in the test process itself, so they own a loop of their own rather than borrowing the
caller's: a test that blocks on spotipy must not block the server answering it.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, Self, TypeVar

from aiohttp import web

T = TypeVar("T")

_START_TIMEOUT_SECONDS = 10.0


class ThreadedServer:
    """An aiohttp app served from its own thread and event loop on a free loopback port."""

    def __init__(self, app: web.Application, host: str = "127.0.0.1", port: int = 0) -> None:
        self._app = app
        self._host = host
        self._requested_port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self.port: int = 0

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:PORT`, without a trailing slash."""
        return f"http://{self._host}:{self.port}"

    def start(self) -> ThreadedServer:
        """Start serving; returns once the port is bound."""
        started: Future[int] = Future()
        loop = self._loop = asyncio.new_event_loop()

        def run() -> None:
            # `loop`, not `self._loop`: stop() forgets the loop while this thread winds down.
            asyncio.set_event_loop(loop)
            try:
                port = loop.run_until_complete(self._serve())
            except BaseException as exc:  # report start-up failures to the caller
                started.set_exception(exc)
                return
            started.set_result(port)
            loop.run_forever()
            loop.run_until_complete(self._shutdown())
            loop.close()

        self._thread = threading.Thread(target=run, name="fake-server", daemon=True)
        self._thread.start()
        self.port = started.result(timeout=_START_TIMEOUT_SECONDS)
        return self

    async def _serve(self) -> int:
        self._runner = web.AppRunner(self._app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._requested_port)
        await site.start()
        server = site._server
        assert isinstance(server, asyncio.Server), "TCPSite serves with an asyncio.Server"
        return int(server.sockets[0].getsockname()[1])

    async def _shutdown(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def call(self, fn: Callable[[], T]) -> T:
        """Run `fn` on the server's loop (for state that handlers also touch)."""
        assert self._loop is not None
        done: Future[T] = Future()

        def wrapper() -> None:
            try:
                done.set_result(fn())
            except BaseException as exc:
                done.set_exception(exc)

        self._loop.call_soon_threadsafe(wrapper)
        return done.result(timeout=_START_TIMEOUT_SECONDS)

    def stop(self) -> None:
        """Stop serving and join the thread; safe to call twice."""
        if self._loop is None or self._thread is None:
            return
        if self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=_START_TIMEOUT_SECONDS)
        self._loop = None
        self._thread = None

    def __enter__(self) -> ThreadedServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


class ServedFake:
    """Start, stop and the base URL of a fake whose app `build_app` makes."""

    _server: ThreadedServer | None = None

    def build_app(self) -> web.Application:
        raise NotImplementedError

    def _started(self, base_url: str) -> None:
        """Called once the port is known (e.g. to tell a gateway its own URL)."""

    def start(self) -> Self:
        """Serve on a free loopback port; starting twice is a no-op."""
        if self._server is None:
            self._server = ThreadedServer(self.build_app()).start()
            self._started(self._server.base_url)
        return self

    def stop(self) -> None:
        """Stop serving; safe to call twice."""
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:PORT`, without a trailing slash."""
        if self._server is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return self._server.base_url
