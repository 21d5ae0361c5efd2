"""The one adapter over spotipy.

spotipy is synchronous, so every call runs on a thread pool this adapter owns (the loop's
default executor belongs to the Hatchet worker). spotipy never retries or sleeps: the
workflow decides, from the classified error, whether to back off, wait durably or give up.
Tokens live in our database; here they are only borrowed for one call and handed back,
refreshed or rotated, for the caller to store.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import hashlib
import logging
import secrets
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from urllib.parse import urlencode

import requests
import spotipy
from spotipy.cache_handler import CacheHandler

from music.spotify_errors import classify

log = logging.getLogger(__name__)
T = TypeVar("T")
R = TypeVar("R")

#: What Mixtape's own calls need: a grant without one of these can neither share nor import.
REQUIRED_SCOPES = (
    "playlist-read-private",
    "playlist-read-collaborative",
    "playlist-modify-private",
    "playlist-modify-public",
)
#: Lets `/me` answer the member's `country`, which the "won't play in your country" warning
#: of an import needs. A grant from before /link asked for it still works without it.
COUNTRY_SCOPE = "user-read-private"
#: What /link asks Spotify for.
SCOPES = (*REQUIRED_SCOPES, COUNTRY_SCOPE)


@dataclass(frozen=True)
class SpotifyConfig:
    """Where Spotify is (the fake in tests) and who we are to it."""

    client_id: str
    client_secret: str
    redirect_uri: str
    api_base: str = "https://api.spotify.com/v1/"
    accounts_base: str = "https://accounts.spotify.com"
    timeout_seconds: float = 10.0
    threads: int = 8


class BorrowedToken(CacheHandler):  # type: ignore[misc]
    """spotipy's token cache for one call: starts from what we stored, remembers a refresh."""

    def __init__(self, token_info: dict[str, Any] | None) -> None:
        self.token_info = copy.deepcopy(token_info) if token_info else None
        self.changed = False

    def get_cached_token(self) -> dict[str, Any] | None:
        return self.token_info

    def save_token_to_cache(self, token_info: dict[str, Any]) -> None:
        self.token_info = dict(token_info)
        self.changed = True


class GrantedScopeOAuth(spotipy.SpotifyOAuth):  # type: ignore[misc]
    """SpotifyOAuth that keeps the `scope` Spotify's token answer names.

    spotipy overwrites it with the scopes the manager asked for, so a grant would claim
    whatever this Mixtape asks for today rather than what the member agreed to.
    """

    def _add_custom_values_to_token_info(self, token_info: dict[str, Any]) -> dict[str, Any]:
        granted = token_info.get("scope")
        token_info = super()._add_custom_values_to_token_info(token_info)
        if granted is not None:
            token_info["scope"] = granted
        return token_info

    def exchange_code(self, code: str, code_verifier: str) -> None:
        """The authorization-code grant with PKCE's `code_verifier` beside the client secret
        (spotipy sends a verifier only from its secretless SpotifyPKCE); the tokens go to
        the cache handler, errors raise as spotipy's own."""
        payload = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.redirect_uri,
            "code_verifier": code_verifier,
        }
        response = self._session.post(
            self.OAUTH_TOKEN_URL,
            data=payload,
            headers=self._make_authorization_headers(),
            timeout=self.requests_timeout,
        )
        try:
            response.raise_for_status()
        except requests.exceptions.HTTPError as http_error:
            self._handle_oauth_error(http_error)
        self.cache_handler.save_token_to_cache(
            self._add_custom_values_to_token_info(response.json())
        )


def add_items(sp: spotipy.Spotify, playlist_id: str, uris: list[str]) -> dict[str, Any]:
    """Append `uris` (at most 100) with the body Spotify documents, `{"uris": [...]}`.

    spotipy's `playlist_add_items` posts a bare JSON array, which the Web API's description
    does not allow; the contract check on our traffic holds us to the description.
    """
    answer: dict[str, Any] = sp._post(f"playlists/{playlist_id}/items", payload={"uris": uris})
    return answer


def remove_items(sp: spotipy.Spotify, playlist_id: str, uris: list[str]) -> dict[str, Any]:
    """Remove every occurrence of each of `uris` (at most 100): the Web API takes no
    positions, so a caller removes a song only when every occurrence is its own."""
    answer: dict[str, Any] = sp._delete(
        f"playlists/{playlist_id}/items", payload={"items": [{"uri": u} for u in uris]}
    )
    return answer


def new_code_verifier() -> str:
    """A PKCE verifier (RFC 7636: 43-128 unreserved characters); 86 here."""
    return secrets.token_urlsafe(64)


def code_challenge(verifier: str) -> str:
    """PKCE S256: BASE64URL(SHA256(verifier)) without padding."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class UserCallResult(Generic[R]):
    """A call's value and the token afterwards (store it when `token_changed`)."""

    value: R
    token_info: dict[str, Any]
    token_changed: bool


class _PooledSession(requests.Session):
    """The adapter's session for one pool thread, owned by the adapter, not by a client.

    A spotipy client closes its session when it is garbage-collected; the adapter makes a
    client per call, so without this every call would open a new connection.
    """

    def close(self) -> None:
        """Kept open for the next client on this thread (see `release`)."""

    def release(self) -> None:
        super().close()


class SpotifyAdapter:
    """Runs spotipy calls off the event loop, classifying every failure."""

    def __init__(self, config: SpotifyConfig) -> None:
        self.config = config
        self._executor = ThreadPoolExecutor(config.threads, thread_name_prefix="spotify")
        self._local = threading.local()
        self._sessions: list[_PooledSession] = []
        self._sessions_lock = threading.Lock()

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        with self._sessions_lock:
            for session in self._sessions:
                session.release()
            self._sessions.clear()

    # OAuth ------------------------------------------------------------------------------

    def oauth(
        self, cache: CacheHandler | None = None, scopes: Sequence[str] = SCOPES
    ) -> spotipy.SpotifyOAuth:
        manager = GrantedScopeOAuth(
            client_id=self.config.client_id,
            client_secret=self.config.client_secret,
            redirect_uri=self.config.redirect_uri,
            scope=list(scopes),
            open_browser=False,
            requests_timeout=self.config.timeout_seconds,
            cache_handler=cache or BorrowedToken(None),
        )
        base = self.config.accounts_base.rstrip("/")
        manager.OAUTH_AUTHORIZE_URL = f"{base}/authorize"
        manager.OAUTH_TOKEN_URL = f"{base}/api/token"
        return manager

    def authorize_url(self, state: str, code_challenge: str) -> str:
        """Spotify's consent page for one /link; pure, no network.

        `show_dialog=true`: Spotify asks every time, even someone who approved Mixtape
        before, instead of sending a signed-in browser straight back. The PKCE challenge
        ties the code to the verifier only the member's browser holds.
        """
        extra = {
            "show_dialog": "true",
            "code_challenge_method": "S256",
            "code_challenge": code_challenge,
        }
        return f"{self.oauth().get_authorize_url(state=state)}&{urlencode(extra)}"

    async def exchange_code(self, code: str, code_verifier: str) -> dict[str, Any]:
        """Trade an authorization code and its PKCE verifier for tokens (single use; Spotify
        checks the redirect URI and the verifier)."""

        def exchange() -> dict[str, Any]:
            cache = BorrowedToken(None)
            self.oauth(cache).exchange_code(code, code_verifier)
            assert cache.token_info is not None
            return cache.token_info

        return await self._run(exchange, write=False)

    # Calls as a member ------------------------------------------------------------------

    def _session(self) -> requests.Session:
        """A plain session per pool thread: connections are reused and nothing retries.

        spotipy's own session mounts urllib3 retries that, even at zero, turn a 429 into a
        `RetryError` without headers (Retry-After lost) and report a 5xx as a 429.
        """
        session: _PooledSession | None = getattr(self._local, "session", None)
        if session is None:
            session = _PooledSession()
            self._local.session = session
            with self._sessions_lock:
                self._sessions.append(session)
        return session

    def client(
        self, auth_manager: spotipy.SpotifyOAuth | None = None, access_token: str | None = None
    ) -> spotipy.Spotify:
        """A spotipy client that never retries or sleeps by itself, aimed at our base URL."""
        sp = spotipy.Spotify(
            auth=access_token,
            auth_manager=auth_manager,
            requests_session=self._session(),
            requests_timeout=self.config.timeout_seconds,
        )
        sp.prefix = self.config.api_base
        return sp

    async def as_user(
        self, token_info: dict[str, Any], op: Callable[[spotipy.Spotify], T], *, write: bool = False
    ) -> UserCallResult[T]:
        """Run `op` with the member's token, refreshing it first if it expired.

        The manager asks for the grant's own scopes: spotipy drops a cached token lacking
        any scope its manager asks for and falls back to an interactive login, and a grant
        from before /link asked for more is still good for what it covers.
        """
        granted = str(token_info.get("scope") or "").split()

        def call() -> UserCallResult[T]:
            cache = BorrowedToken(token_info)
            manager = self.oauth(cache, granted)
            manager.get_access_token(as_dict=False)  # refreshes an expired token
            value = op(self.client(auth_manager=manager))
            assert cache.token_info is not None
            return UserCallResult(value, cache.token_info, cache.changed)

        return await self._run(call, write=write)

    async def _run(self, fn: Callable[[], T], *, write: bool) -> T:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, fn)
        except Exception as exc:
            classified = classify(exc, write=write)
            if classified is None or classified is exc:
                raise
            raise classified from exc
