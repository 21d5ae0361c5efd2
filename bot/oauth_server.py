"""The web side of /link, served by the bot process (aiohttp).

/link hands the member the address of our page (`…/link?state=…`, beside the redirect
URI). That page names the Discord member and the server the link is for and waits for a
click, so a forwarded URL shows whose link it is. The click binds the state to this
browser: a fresh PKCE verifier goes into a cookie, its challenge into the state's row, and
the browser goes on to Spotify, which shows its consent dialog every time
(`show_dialog=true`). Back on the callback, the state is spent only with that cookie, the
code is exchanged with the verifier, `/me` is read, a Spotify account another member has
linked is refused, and the success page names the member. Every refusal is a page that
says what happened and changes nothing.

The server faces the internet through an HTTPS proxy: it binds loopback by default, closes
a connection that sends no complete request within `oauth_idle_timeout_seconds`, holds at
most `oauth_max_connections` (shedding the oldest idle one for a newcomer), takes small
requests only, cannot be framed, names no server software and keeps no access log (these
URLs carry one-time secrets).
"""

from __future__ import annotations

import asyncio
import logging
import posixpath
import re
import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

import spotipy
from aiohttp import web
from aiohttp.typedefs import Handler

from bot.services import BotServices
from music.errors import AuthExpired, MusicServiceError, RateLimited, Transient
from music.spotify import code_challenge, new_code_verifier
from spotify_access.calls import is_unregistered_user
from storage import accounts, waitlist
from storage.accounts import SpotifyAccountTaken
from storage.oauth_states import (
    LinkRequest,
    StateRejection,
    bind_browser,
    consume_state,
    find_state,
    hash_state,
)
from storage.types import utcnow
from voice import pages

log = logging.getLogger(__name__)

#: A cookie per /link, holding the PKCE verifier of the browser that pressed our button.
COOKIE_PREFIX = "mixtape_link_"
_VERIFIER = re.compile(r"[A-Za-z0-9._~-]{43,128}")
#: Request limits: our pages take a query string, one small form field and some cookies.
MAX_BODY_BYTES = 4096
MAX_LINE_BYTES = 4096
MAX_HEADERS = 64
#: The bot's health, for compose's health check; never forwarded by the HTTPS proxy.
HEALTH_PATH = "/healthz"


def _me(sp: spotipy.Spotify) -> dict[str, Any]:
    result: dict[str, Any] = sp.me()
    return result


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


#: How soon after a new connection the cap is checked again (a burst is set up by then).
_CAP_CHECK_SECONDS = 0.02


class _Refused(asyncio.Protocol):
    """A connection over the cap while every open one is busy: closed at once."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.close()


class OAuthCallbackServer:
    """Our page before Spotify and the callback, beside the redirect URI's path."""

    def __init__(
        self,
        services: BotServices,
        *,
        clock: Callable[[], datetime] = utcnow,
        health: Callable[[], Awaitable[dict[str, bool]]] | None = None,
    ) -> None:
        self.services = services
        self.clock = clock
        self.health = health
        settings = services.settings
        self.path = urlsplit(settings.spotify_redirect_uri).path or "/"
        folder = posixpath.dirname(self.path)
        self.link_path = posixpath.join(folder, "link")
        self.origin = _origin(settings.spotify_redirect_uri)
        self._cookie_path = folder
        self._secure = self.origin.startswith("https:")
        spotify = _origin(settings.spotify_accounts_base)
        self._headers = {
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
            "X-Content-Type-Options": "nosniff",
            "X-Frame-Options": "DENY",
            "Content-Security-Policy": (
                "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; "
                f"frame-ancestors 'none'; form-action 'self' {spotify}"
            ),
        }
        self._runner: web.AppRunner | None = None
        self._listener: asyncio.Server | None = None
        self._busy: set[asyncio.BaseTransport] = set()
        self._cap_check: asyncio.TimerHandle | None = None
        self._declaring: set[asyncio.Task[None]] = set()

    def link_url(self, state: str) -> str:
        """The address /link gives the member: our page, which names them."""
        return f"{self.origin}{self.link_path}?{urlencode({'state': state})}"

    # -- serving ---------------------------------------------------------------------------

    def build_app(self) -> web.Application:
        """The aiohttp application: our page (GET shows, POST goes on) and the callback."""
        app = web.Application(client_max_size=MAX_BODY_BYTES, middlewares=[self._track])
        app.router.add_get(self.link_path, self.show_link)
        app.router.add_post(self.link_path, self.start_link)
        app.router.add_get(self.path, self.handle)
        app.router.add_get(HEALTH_PATH, self.healthz)
        app.on_response_prepare.append(self._add_headers)
        return app

    async def start(self) -> None:
        """Bind and serve; a taken port fails loudly at start-up, not at the first /link."""
        settings = self.services.settings
        self._runner = web.AppRunner(
            self.build_app(),
            access_log=None,
            keepalive_timeout=settings.oauth_idle_timeout_seconds,
            max_line_size=MAX_LINE_BYTES,
            max_headers=MAX_HEADERS,
        )
        await self._runner.setup()
        loop = asyncio.get_running_loop()
        self._listener = await loop.create_server(
            self._connection, settings.oauth_bind_host, settings.oauth_bind_port
        )
        log.info(
            "OAuth callback on http://%s:%d%s",
            settings.oauth_bind_host,
            settings.oauth_bind_port,
            self.path,
        )

    async def stop(self) -> None:
        """Stop serving; safe to call twice."""
        for task in self._declaring:
            task.cancel()
        await asyncio.gather(*self._declaring, return_exceptions=True)
        if self._cap_check is not None:
            self._cap_check.cancel()
            self._cap_check = None
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def healthz(self, request: web.Request) -> web.Response:
        """For the container's health check (the HTTPS proxy does not forward it): 200 when
        every part the bot reports is healthy, 503 naming the one that is not."""
        parts = await self.health() if self.health is not None else {}
        return web.json_response(parts, status=200 if all(parts.values()) else 503)

    def _connection(self) -> asyncio.Protocol:
        """A new connection; over the cap the oldest idle ones make room, else it is refused.

        Idle (no request being handled) includes a connection still sending its headers,
        so slow or silent clients are shed first and a real callback still gets in. asyncio
        accepts up to a listen backlog (100) at once before setting any of them up, so a
        burst can pass the cap by that much for a moment: a check just after it sheds the
        surplus.
        """
        assert self._runner is not None and self._runner.server is not None
        server = self._runner.server
        excess = self._shed_idle(room_for=1)
        if self._cap_check is None:  # once the burst is set up, bring it back to the cap
            self._cap_check = asyncio.get_running_loop().call_later(
                _CAP_CHECK_SECONDS, self._enforce_cap
            )
        return server() if excess <= 0 else _Refused()

    def _shed_idle(self, *, room_for: int) -> int:
        """Close the oldest idle connections beyond the cap (leaving `room_for` places);
        returns how many are still too many."""
        server = self._runner.server if self._runner is not None else None
        if server is None:
            return 0
        open_ = [c for c in server.connections if c.transport is not None]
        excess = len(open_) + room_for - self.services.settings.oauth_max_connections
        for idle in [c for c in open_ if c.transport not in self._busy][: max(excess, 0)]:
            idle.force_close()
            excess -= 1
        return excess

    def _enforce_cap(self) -> None:
        """The cap after a burst: asyncio sets up a whole accept backlog before any of them
        is counted, so a flood can pass the cap until this runs, moments later."""
        self._cap_check = None
        self._shed_idle(room_for=0)

    @web.middleware
    async def _track(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Mark the connection busy while its request is handled (it is not shed then)."""
        transport = request.transport
        if transport is not None:
            self._busy.add(transport)
        try:
            return await handler(request)
        finally:
            self._busy.discard(transport)

    async def _add_headers(self, request: web.Request, response: web.StreamResponse) -> None:
        response.headers.update(self._headers)
        response.headers.popall("Server", None)

    # -- our page before Spotify -------------------------------------------------------------

    async def show_link(self, request: web.Request) -> web.Response:
        """The page a /link URL opens: whose link this is, and a button to go on."""
        return await self._answer(self._show_link(request))

    async def _show_link(self, request: web.Request) -> pages.Page:
        raw = request.query.get("state")
        if not raw:
            return pages.page_missing_state()
        async with self.services.sessions.begin() as session:
            found = await find_state(session, raw, now=self.clock())
        if isinstance(found, StateRejection):
            return self._rejection(found)
        verifier = self._verifier(request, raw)
        mine = verifier is not None and code_challenge(verifier) == found.code_challenge
        if found.code_challenge is not None and not mine:
            return pages.page_opened_elsewhere()
        return pages.page_confirm(found, raw)

    async def start_link(self, request: web.Request) -> web.Response:
        """The button: bind the state to this browser (cookie), then on to Spotify."""
        return await self._answer(self._start_link(request))

    async def _start_link(self, request: web.Request) -> pages.Page | web.Response:
        if not self._same_origin(request):
            return pages.page_not_from_our_page()
        try:
            async with asyncio.timeout(self.services.settings.oauth_idle_timeout_seconds):
                form = await request.post()
        except TimeoutError:
            return pages.page_not_from_our_page()
        raw = form.get("state")
        if not isinstance(raw, str) or not raw:
            return pages.page_missing_state()
        verifier = self._verifier(request, raw) or new_code_verifier()
        challenge = code_challenge(verifier)
        async with self.services.sessions.begin() as session:
            bound = await bind_browser(session, raw, challenge, now=self.clock())
        if isinstance(bound, StateRejection):
            return self._rejection(bound)
        url = self.services.spotify.authorize_url(raw, challenge)
        response = web.Response(status=303, headers={"Location": url})
        response.set_cookie(
            self._cookie_name(raw),
            verifier,
            max_age=self.services.settings.oauth_state_ttl_seconds,
            path=self._cookie_path,
            secure=self._secure,
            httponly=True,
            samesite="Lax",
        )
        return response

    def _same_origin(self, request: web.Request) -> bool:
        """A press of our own page's button: browsers name the page's origin on a POST."""
        site = request.headers.get("Sec-Fetch-Site")
        origin = request.headers.get("Origin", "").lower()
        return origin == self.origin and site in (None, "same-origin")

    def _cookie_name(self, raw_state: str) -> str:
        return COOKIE_PREFIX + hash_state(raw_state)[:16]

    def _verifier(self, request: web.Request, raw_state: str) -> str | None:
        value = request.cookies.get(self._cookie_name(raw_state))
        return value if value is not None and _VERIFIER.fullmatch(value) else None

    # -- the callback ------------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.Response:
        """One browser arriving from Spotify."""
        return await self._answer(self._callback(request))

    async def _callback(self, request: web.Request) -> pages.Page | web.Response:
        """Spend the state only in the browser bound to it, then link; a spent or dead
        state's cookie is dropped, a Spotify refusal leaves both for another try."""
        query = request.query
        error = query.get("error")
        if error is not None:
            if error == "access_denied":
                return pages.page_denied()
            return pages.page_spotify_error(error[:100])
        state = query.get("state")
        if not state:
            return pages.page_missing_state()
        code = query.get("code")
        if not code:
            return pages.page_missing_code()
        verifier = self._verifier(request, state)
        challenge = code_challenge(verifier) if verifier is not None else None
        async with self.services.sessions.begin() as session:
            consumed = await consume_state(session, state, challenge, now=self.clock())
        if isinstance(consumed, StateRejection):
            log.info("OAuth callback with a %s state", consumed.value)
            if consumed is StateRejection.OTHER_BROWSER:
                return pages.page_other_browser()
            page = self._rejection(consumed)
        else:
            assert verifier is not None  # a state is only spent with its browser's verifier
            page = await self._link(consumed, code, verifier)
        response = _response(page)
        response.del_cookie(self._cookie_name(state), path=self._cookie_path)
        return response

    def _rejection(self, rejection: StateRejection) -> pages.Page:
        if rejection is StateRejection.EXPIRED:
            return pages.page_expired_state(self.services.settings.oauth_state_ttl_seconds)
        if rejection is StateRejection.USED:
            return pages.page_used_state()
        if rejection is StateRejection.OTHER_BROWSER:
            return pages.page_opened_elsewhere()
        return pages.page_unknown_state()

    async def _link(self, who: LinkRequest, code: str, verifier: str) -> pages.Page:
        spotify = self.services.spotify
        try:
            token_info = await spotify.exchange_code(code, verifier)
            result = await spotify.as_user(token_info, _me)
        except AuthExpired:
            return pages.page_code_refused()
        except (Transient, RateLimited):
            return pages.page_spotify_down()
        except MusicServiceError as exc:
            if not is_unregistered_user(exc):
                raise
            await self._wait_list(who)
            return pages.page_not_registered()
        me, tokens = result.value, result.token_info
        display_name = str(me.get("display_name") or me["id"])
        try:
            async with self.services.sessions.begin() as session:
                await accounts.save_linked_account(
                    session,
                    self.services.cipher,
                    discord_user_id=who.discord_user_id,
                    spotify_user_id=str(me["id"]),
                    refresh_token=str(tokens["refresh_token"]),
                    scopes=str(tokens.get("scope") or "").split(),
                    display_name=display_name,
                    country=me.get("country"),
                    access_token=str(tokens["access_token"]),
                    access_token_expires_at=datetime.fromtimestamp(int(tokens["expires_at"]), UTC),
                )
                await waitlist.clear_waiting(session, who.discord_user_id)
        except SpotifyAccountTaken:
            log.info(
                "member %s tried to link Spotify account %s, which another member has linked",
                who.discord_user_id,
                me["id"],
            )
            return pages.page_taken(display_name)
        log.info("member %s linked Spotify account %s", who.discord_user_id, me["id"])
        declaring = asyncio.create_task(self._declare_member(who.discord_user_id))
        self._declaring.add(declaring)  # asyncio holds tasks weakly
        declaring.add_done_callback(self._declaring.discard)
        return pages.page_linked(display_name, who)

    async def _declare_member(self, discord_user_id: int) -> None:
        """Best effort, beside the member's page (an engine that is slow or down never holds
        it): without the key now, the member's first task creates it and waits for it."""
        settings = self.services.settings
        try:
            async with asyncio.timeout(settings.http_timeout_seconds):
                await self.services.dispatcher.declare_member(
                    discord_user_id, settings.spotify_member_calls_per_minute
                )
        except Exception:  # the link stands; only the first task's start is slower
            log.warning(
                "could not create the rate-limit key of member %s in the engine",
                discord_user_id,
                exc_info=True,
            )

    async def _wait_list(self, who: LinkRequest) -> None:
        async with self.services.sessions.begin() as session:
            entry = await waitlist.record_refusal(
                session, who.discord_user_id, guild_id=who.guild_id, display_name=who.display_name
            )
        log.warning(
            "Spotify development mode refused member %s (attempt %d); listed for /waitlist",
            who.discord_user_id,
            entry.attempts,
        )

    async def _answer(self, answer: Awaitable[pages.Page | web.Response]) -> web.Response:
        """A page as a response; a bug becomes a page with a reference for the logs."""
        try:
            shown = await answer
        except web.HTTPException:  # aiohttp's own answers (a body over the size limit)
            raise
        except Exception:
            reference = secrets.token_hex(4)
            log.exception("OAuth page failed (reference %s)", reference)
            shown = pages.page_unexpected(reference)
        return shown if isinstance(shown, web.Response) else _response(shown)


def _response(page: pages.Page) -> web.Response:
    return web.Response(
        status=page.status, text=page.html(), content_type="text/html", charset="utf-8"
    )
