"""A fake Spotify (Web API under `/v1` plus the Accounts service) for tests, demo and benches.

    with FakeSpotify() as fake:
        fake.add_user("ada")
        grant = fake.issue_token("ada")
        sp = fake.spotify_client(grant.access_token)      # real spotipy, URLs pointed here
        sp.current_user_playlist_create("Mix")
        assert fake.count("POST /v1/me/playlists", user="ada") == 1

State lives in memory (`SpotifyState`, which this class extends) and can be read and
changed from the test's thread while the server answers from its own. Every call is
recorded (`calls`, `count`) under a stable route name (`ROUTES`); faults are injected per
route (`inject`), an app-wide rolling rate limit can be switched on (`set_rate_limit`), and
each 429 leaves a Retry-After window that `calls_inside_retry_after_windows` checks.
Every answered exchange is also offered to `fakes.traffic`, whose sample a test run
checks against Spotify's OpenAPI description.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Literal

import requests
import spotipy
from aiohttp import web
from spotipy.cache_handler import MemoryCacheHandler
from yarl import URL

from fakes import spotify_accounts, spotify_webapi, traffic
from fakes.server import ServedFake
from fakes.spotify_model import (
    ROUTES,
    UNMATCHED_ROUTE,
    CallRecord,
    Episode,
    Fault,
    FaultKind,
    LocalFile,
    Playlist,
    Removed,
    RetryAfterWindow,
    TokenGrant,
    Track,
    User,
)
from fakes.spotify_render import error_body
from fakes.spotify_state import DEFAULT_SCOPES, EntrySpec, OAuthError, SpotifyState
from fakes.spotify_webapi import APP_ID, STATE, USER_ID, ApiError

__all__ = [
    "DEFAULT_SCOPES",
    "ROUTES",
    "UNMATCHED_ROUTE",
    "CallRecord",
    "EntrySpec",
    "Episode",
    "FakeSpotify",
    "Fault",
    "FaultKind",
    "LocalFile",
    "OAuthError",
    "Playlist",
    "Removed",
    "RetryAfterWindow",
    "SpotifyState",
    "TokenGrant",
    "Track",
    "User",
]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_SERVER_ERRORS = {
    500: "Server error.",
    502: "Bad gateway.",
    503: "Service unavailable",
    504: "Gateway timeout",
}


def route_name(request: web.Request) -> str:
    """`"GET /v1/playlists/{id}/items"`-style name of the matched route (HEAD counts as GET)."""
    info = request.match_info
    resource = info.route.resource
    if info.http_exception is not None or resource is None:
        return UNMATCHED_ROUTE
    method = "GET" if request.method == "HEAD" else request.method
    return f"{method} {resource.canonical.rstrip('/') or '/'}"


def _identity(request: web.Request, state: SpotifyState) -> tuple[str | None, str | None]:
    """(app, user) as far as the headers tell before the handler runs."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        grant = state.lookup_access(value)
        return (grant.client_id, grant.user_id) if grant else (None, None)
    if scheme.lower() == "basic":
        try:
            return base64.b64decode(value, validate=True).decode().partition(":")[0], None
        except (binascii.Error, UnicodeDecodeError):
            return None, None
    return None, None


def _too_many(
    retry_after: int, message: str | None = None, reason: str | None = None
) -> web.Response:
    body = error_body(429, message or "API rate limit exceeded", reason)
    return web.json_response(body, status=429, headers={"Retry-After": str(retry_after)})


def _server_error(status: int, message: str | None, reason: str | None) -> web.Response:
    body = error_body(status, message or _SERVER_ERRORS.get(status, "Server error."), reason)
    return web.json_response(body, status=status)


def _http_error(request: web.Request, exc: web.HTTPException) -> web.Response:
    """aiohttp's own 404/405, as Spotify's JSON error object under /v1."""
    if request.path.startswith("/v1/"):
        message = "Service not found" if exc.status == 404 else exc.reason
        return web.json_response(error_body(exc.status, message), status=exc.status)
    return web.Response(status=exc.status, text=exc.text or exc.reason)


async def _answer(
    request: web.Request,
    handler: Handler,
    state: SpotifyState,
    app_id: str | None,
    fault: Fault | None,
) -> tuple[web.StreamResponse, str | None, int | None]:
    """The response, the fault label for the record, and the Retry-After if a 429."""
    if fault is not None and fault.kind in ("delay", "stall"):
        await asyncio.sleep(fault.seconds)
    if fault is not None and fault.kind == "stall":
        # A request that hangs and dies unanswered, having changed nothing.
        return web.Response(status=504, text="stalled"), "stall", None
    if fault is not None and fault.kind == "429":
        return _too_many(fault.retry_after, fault.message, fault.reason), "429", fault.retry_after
    if fault is not None and fault.kind == "5xx":
        return _server_error(fault.status, fault.message, fault.reason), "5xx", None
    if request.path.startswith("/v1/") and request.match_info.http_exception is None:
        wait = state.admit(app_id, state.clock())
        if wait is not None:
            return _too_many(wait), "rate_limit", wait
    try:
        response = await handler(request)
    except ApiError as exc:
        response = exc.response()
    except web.HTTPException as exc:
        response = _http_error(request, exc)
    return response, (fault.kind if fault else None), None


@web.middleware
async def observe(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Latency, faults, rate limit and the call record around every handler."""
    state = request.app[STATE]
    arrived, route = state.clock(), route_name(request)
    app_id, user_id = _identity(request, state)
    await request.read()  # the whole request has arrived before any delay or fault
    if request.transport is not None:
        state.saw_connection(request.transport.get_extra_info("peername"))
    if state.latency > 0:
        await asyncio.sleep(state.latency)
    fault = state.take_fault(route, user_id) if route != UNMATCHED_ROUTE else None
    response, label, retry_after = await _answer(request, handler, state, app_id, fault)
    app_id, user_id = request.get(APP_ID, app_id), request.get(USER_ID, user_id)
    if retry_after is not None:
        sent = state.clock()
        service: Literal["api", "accounts"] = (
            "api" if request.path.startswith("/v1/") else "accounts"
        )
        state.add_window(
            RetryAfterWindow(service, app_id, user_id, route, sent, sent + retry_after)
        )
    dropped = fault is not None and fault.kind in ("drop", "stall")
    state.record(
        CallRecord(
            arrived,
            request.method,
            route,
            request.path,
            user_id,
            app_id,
            response.status,
            dict(request.query),
            label,
            dropped,
            retry_after,
        )
    )
    if not dropped:
        await _offer(request, route, response)
    elif request.transport is not None:
        request.transport.abort()  # the change is applied; the client never hears of it
    return response


async def _offer(request: web.Request, route: str, response: web.StreamResponse) -> None:
    """Hand the exchange to the traffic sampler (a no-op unless a test run switched it on)."""
    if not traffic.SAMPLER.enabled:
        return
    sent = await request.read()
    raw = response.body if isinstance(response, web.Response) else None
    answer = raw if isinstance(raw, bytes) else b""
    head = traffic.Exchange(
        service="spotify",
        method=request.method,
        path=request.path,
        route=route,
        query=dict(request.query),
        request=None,
        request_type=traffic.media_type(request.content_type) if sent else "",
        status=response.status,
        response=None,
        response_type=traffic.media_type(response.content_type) if answer else "",
    )
    traffic.SAMPLER.offer(
        head,
        lambda: (
            traffic.parse_json(sent, request.content_type),
            traffic.parse_json(answer, response.content_type),
        ),
    )


class FakeSpotify(ServedFake, SpotifyState):
    """The fake's state plus its HTTP server; `start()` serves it on a free loopback port.

    Constructor options: see SpotifyState.
    """

    def build_app(self) -> web.Application:
        """The aiohttp application (for embedding the fake in another server or loop)."""
        app = web.Application(middlewares=[observe])
        app[STATE] = self
        spotify_accounts.add_routes(app)
        spotify_webapi.add_routes(app)
        return app

    @property
    def accounts_base(self) -> str:
        return self.base_url

    @property
    def api_base(self) -> str:
        """Web API prefix with trailing slash, as spotipy's `Spotify.prefix` wants it."""
        return f"{self.base_url}/v1/"

    @property
    def authorize_url(self) -> str:
        return f"{self.base_url}/authorize"

    @property
    def token_url(self) -> str:
        return f"{self.base_url}/api/token"

    # --------------------------------------------------------------- real clients, pointed here

    def spotify_client(self, access_token: str | None = None, **options: Any) -> spotipy.Spotify:
        """spotipy.Spotify aimed at the fake; no retries unless asked (tests see every call)."""
        settings: dict[str, Any] = {"requests_timeout": 5, "retries": 0, "status_retries": 0}
        client = spotipy.Spotify(auth=access_token, **(settings | options))
        client.prefix = self.api_base
        return client

    def oauth(
        self,
        scope: str | Iterable[str] = DEFAULT_SCOPES,
        *,
        client_id: str | None = None,
        redirect_uri: str | None = None,
        state: str | None = None,
        **options: Any,
    ) -> spotipy.SpotifyOAuth:
        """SpotifyOAuth for the default app, its URLs set on the instance, tokens in memory."""
        app = self.apps[client_id or self.default_client_id]
        manager = spotipy.SpotifyOAuth(
            client_id=app.client_id,
            client_secret=app.client_secret,
            redirect_uri=redirect_uri or sorted(app.redirect_uris)[0],
            state=state,
            scope=scope if isinstance(scope, str) else list(scope),
            open_browser=False,
            cache_handler=options.pop("cache_handler", MemoryCacheHandler()),
            **options,
        )
        manager.OAUTH_AUTHORIZE_URL = self.authorize_url
        manager.OAUTH_TOKEN_URL = self.token_url
        return manager

    def client_credentials(self, client_id: str | None = None) -> spotipy.SpotifyClientCredentials:
        app = self.apps[client_id or self.default_client_id]
        manager = spotipy.SpotifyClientCredentials(
            client_id=app.client_id,
            client_secret=app.client_secret,
            cache_handler=MemoryCacheHandler(),
        )
        manager.OAUTH_TOKEN_URL = self.token_url
        return manager

    def consent_url(self, authorize_url: str, user_id: str, *, deny: bool = False) -> str:
        """`authorize_url` with the dialog's answer: agree (or not) as `user_id`."""
        params = {"fake_user": user_id} | ({"fake_deny": "1"} if deny else {})
        return str(URL(authorize_url).update_query(params))

    def consent(self, authorize_url: str, user_id: str, *, deny: bool = False) -> str:
        """Open `authorize_url` as `user_id` (agreeing or not); returns the redirect target."""
        url = self.consent_url(authorize_url, user_id, deny=deny)
        response = requests.get(url, allow_redirects=False, timeout=5)
        if response.status_code != 302:
            raise RuntimeError(f"/authorize answered {response.status_code}: {response.text}")
        return response.headers["Location"]
