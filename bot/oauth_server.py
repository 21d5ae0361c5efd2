"""The Spotify OAuth callback, served by the bot process (aiohttp).

A member's browser comes back here from Spotify's consent page with `code` and `state`.
The state is spent first (single use, expiring, bound to the Discord user who ran
/link), then the code is exchanged, `/me` read as that user, and the account saved with
its refresh token encrypted. Every refusal is a page that says what happened and changes
nothing. The access log is off: these URLs carry one-time secrets.
"""

from __future__ import annotations

import logging
import secrets
from collections import OrderedDict
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import spotipy
from aiohttp import web

from bot import render
from bot.services import BotServices
from mixtape.spotify_tokens import is_unregistered_user
from music.errors import AuthExpired, MusicServiceError, RateLimited, Transient
from storage import accounts, waitlist
from storage.oauth_states import ConsumedState, StateRejection, consume_state
from storage.types import utcnow

log = logging.getLogger(__name__)

_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
}
#: How many /link display names to remember for the waitlist (a hint, not a record).
_NAME_MEMORY = 1000


def _me(sp: spotipy.Spotify) -> dict[str, Any]:
    result: dict[str, Any] = sp.me()
    return result


class OAuthCallbackServer:
    """Serves the redirect URI's path on `oauth_bind_host:oauth_bind_port`."""

    def __init__(
        self, services: BotServices, *, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.services = services
        self.clock = clock
        self.path = urlsplit(services.settings.spotify_redirect_uri).path or "/"
        self._runner: web.AppRunner | None = None
        self._names: OrderedDict[int, str] = OrderedDict()

    def remember_name(self, discord_user_id: int, display_name: str) -> None:
        """Keep who ran /link, so a development-mode refusal can name them on the waitlist."""
        self._names[discord_user_id] = display_name
        self._names.move_to_end(discord_user_id)
        while len(self._names) > _NAME_MEMORY:
            self._names.popitem(last=False)

    def build_app(self) -> web.Application:
        """The aiohttp application (one GET route)."""
        app = web.Application()
        app.router.add_get(self.path, self.handle)
        return app

    async def start(self) -> None:
        """Bind and serve; a taken port fails loudly at start-up, not at the first /link."""
        settings = self.services.settings
        self._runner = web.AppRunner(self.build_app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, settings.oauth_bind_host, settings.oauth_bind_port)
        await site.start()
        log.info(
            "OAuth callback on http://%s:%d%s",
            settings.oauth_bind_host, settings.oauth_bind_port, self.path,
        )

    async def stop(self) -> None:
        """Stop serving; safe to call twice."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def handle(self, request: web.Request) -> web.Response:
        """One browser arriving from Spotify."""
        try:
            page = await self.complete(request.query)
        except Exception:
            reference = secrets.token_hex(4)
            log.exception("OAuth callback failed (reference %s)", reference)
            page = render.page_unexpected(reference)
        return web.Response(
            status=page.status,
            text=page.html(),
            content_type="text/html",
            charset="utf-8",
            headers=_HEADERS,
        )

    async def complete(self, query: Mapping[str, str]) -> render.Page:
        """Validate the callback, spending the state only when the request is well formed."""
        error = query.get("error")
        if error is not None:
            # Spotify's refusals; the state stays unspent and nothing is stored.
            if error == "access_denied":
                return render.page_denied()
            return render.page_spotify_error(error[:100])
        state = query.get("state")
        if not state:
            return render.page_missing_state()
        code = query.get("code")
        if not code:
            return render.page_missing_code()
        async with self.services.sessions.begin() as session:
            consumed = await consume_state(session, state, now=self.clock())
        if isinstance(consumed, StateRejection):
            log.info("OAuth callback with a %s state", consumed.value)
            return self._rejection(consumed)
        return await self._link(consumed, code)

    def _rejection(self, rejection: StateRejection) -> render.Page:
        if rejection is StateRejection.EXPIRED:
            return render.page_expired_state(self.services.settings.oauth_state_ttl_seconds)
        if rejection is StateRejection.USED:
            return render.page_used_state()
        return render.page_unknown_state()

    async def _link(self, who: ConsumedState, code: str) -> render.Page:
        spotify = self.services.spotify
        try:
            token_info = await spotify.exchange_code(code)
            result = await spotify.as_user(token_info, _me)
        except AuthExpired:
            return render.page_code_refused()
        except (Transient, RateLimited):
            return render.page_spotify_down()
        except MusicServiceError as exc:
            if not is_unregistered_user(exc):
                raise
            await self._wait_list(who)
            return render.page_not_registered()
        me, tokens = result.value, result.token_info
        display_name = str(me.get("display_name") or me["id"])
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
        self._names.pop(who.discord_user_id, None)
        log.info("member %s linked Spotify account %s", who.discord_user_id, me["id"])
        return render.page_linked(display_name)

    async def _wait_list(self, who: ConsumedState) -> None:
        async with self.services.sessions.begin() as session:
            entry = await waitlist.record_refusal(
                session,
                who.discord_user_id,
                guild_id=who.guild_id,
                display_name=self._names.get(who.discord_user_id),
            )
        log.warning(
            "Spotify development mode refused member %s (attempt %d); listed for /waitlist",
            who.discord_user_id,
            entry.attempts,
        )
