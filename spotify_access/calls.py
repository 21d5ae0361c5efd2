"""Call Spotify as a linked member: tokens from our encrypted store, changes written back.

Shared by the bot and the worker, so it knows nothing of Discord. The one rule it keeps:
whatever Spotify hands back on a refresh (a new access token, possibly a rotated refresh
token that replaces the old one) is stored *before* the member's operation runs, so an
operation that fails afterwards can never lose a rotated refresh token.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import spotipy
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from music.errors import AuthExpired, MusicServiceError, Permanent, RateLimited
from music.spotify import REQUIRED_SCOPES, SpotifyAdapter, UserCallResult
from storage import accounts, rate_gates
from storage.crypto import TokenCipher

log = logging.getLogger(__name__)
T = TypeVar("T")

#: spotipy refreshes a token this close to its expiry; we refresh on the same rule.
REFRESH_MARGIN_SECONDS = 60
NOT_REGISTERED_MARKER = "not registered in the developer dashboard"


class NotLinked(Permanent):
    """The member has no linked Spotify account (never ran /link, or ran /unlink)."""

    def __init__(self, discord_user_id: int) -> None:
        super().__init__("You haven't linked Spotify yet: run /link first.")
        self.discord_user_id = discord_user_id


class LinkExpired(AuthExpired):
    """Spotify no longer accepts the member's grant; only a new /link can fix it."""

    def __init__(self, discord_user_id: int, reason: str) -> None:
        super().__init__("Your Spotify link expired: run /link again.")
        self.discord_user_id = discord_user_id
        self.reason = reason


class NotRegistered(Permanent):
    """The Spotify app is in development mode and this account is not on its allow-list."""

    def __init__(self, message: str) -> None:
        super().__init__(message, status=403)


def is_unregistered_user(exc: BaseException) -> bool:
    """Spotify's development-mode refusal: 403 "User not registered in the Developer Dashboard"."""
    return (
        isinstance(exc, Permanent)
        and exc.status == 403
        and NOT_REGISTERED_MARKER in str(exc).lower()
    )


def token_info_from(tokens: accounts.AccountTokens, scopes: list[str]) -> dict[str, Any]:
    """The dict spotipy's auth manager expects; a missing access token reads as expired."""
    expires_at = tokens.access_token_expires_at
    return {
        "access_token": tokens.access_token or "",
        "refresh_token": tokens.refresh_token,
        "expires_at": int(expires_at.timestamp()) if tokens.access_token and expires_at else 0,
        "scope": " ".join(scopes),
        "token_type": "Bearer",
    }


def _noop(_: spotipy.Spotify) -> None:
    """An operation that calls nothing: `as_user` then only refreshes the token."""


class _MemberSession:
    """One member's tokens during one `call_as_member`."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        cipher: TokenCipher,
        adapter: SpotifyAdapter,
        discord_user_id: int,
    ) -> None:
        self.sessions = sessions
        self.cipher = cipher
        self.adapter = adapter
        self.user = discord_user_id
        self.token_info: dict[str, Any] = {}

    async def load(self, *, gate: bool = False) -> None:
        """Read the member's grant; with `gate`, in the same transaction, refuse while
        Spotify's last Retry-After runs (its limits are per app): one read per call."""
        async with self.sessions.begin() as session:
            until = await rate_gates.closed_until(session, SPOTIFY_GATE) if gate else None
            account = await accounts.get_account(session, self.user)
        if until is not None:
            raise RateLimited((until - datetime.now(UTC)).total_seconds(), reason="app-wide wait")
        if account is None:
            raise NotLinked(self.user)
        tokens = accounts.tokens_of(account, self.cipher)
        missing = set(REQUIRED_SCOPES) - set(account.scopes)
        if missing:
            # Spotify would refuse the calls (403 Insufficient client scope); only a new
            # consent helps.
            raise self.expired(f"grant lacks scopes {sorted(missing)}")
        self.token_info = token_info_from(tokens, list(account.scopes))

    def needs_refresh(self) -> bool:
        expires_at = int(self.token_info.get("expires_at") or 0)
        return expires_at - datetime.now(UTC).timestamp() < REFRESH_MARGIN_SECONDS

    async def refresh(self) -> None:
        """Refresh now and store the result, retrying once if another process rotated first."""
        self.token_info["expires_at"] = 0
        try:
            result = await self.adapter.as_user(self.token_info, _noop)
        except AuthExpired as exc:
            used = self.token_info["refresh_token"]
            await self.load()
            if self.token_info["refresh_token"] == used:
                raise self.expired(str(exc)) from exc
            log.info("refresh token of member %s was rotated meanwhile; retrying", self.user)
            self.token_info["expires_at"] = 0
            try:
                result = await self.adapter.as_user(self.token_info, _noop)
            except AuthExpired as again:
                raise self.expired(str(again)) from again
        await self.store(result)

    async def call(self, op: Callable[[spotipy.Spotify], T], write: bool) -> T:
        result = await self.adapter.as_user(self.token_info, op, write=write)
        await self.store(result)
        return result.value

    async def store(self, result: UserCallResult[Any]) -> None:
        """Persist a changed token: the access token always, the refresh token if rotated."""
        if not result.token_changed:
            return
        info = result.token_info
        rotated = info.get("refresh_token")
        async with self.sessions.begin() as session:
            still_linked = await accounts.store_access_token(
                session,
                self.cipher,
                self.user,
                str(info["access_token"]),
                datetime.fromtimestamp(int(info["expires_at"]), UTC),
            )
            if still_linked and rotated and rotated != self.token_info.get("refresh_token"):
                await accounts.store_rotated_refresh_token(
                    session, self.cipher, self.user, str(rotated)
                )
        if not still_linked:
            log.info("member %s unlinked during a Spotify call; token not kept", self.user)
        self.token_info = {**self.token_info, **info}

    def expired(self, reason: str) -> LinkExpired:
        log.warning(
            "Spotify refused the grant of member %s (%s); account kept until they /link again",
            self.user,
            reason,
        )
        return LinkExpired(self.user, reason)


async def call_as_member(
    sessions: async_sessionmaker[AsyncSession],
    cipher: TokenCipher,
    adapter: SpotifyAdapter,
    discord_user_id: int,
    op: Callable[[spotipy.Spotify], T],
    *,
    write: bool = False,
) -> T:
    """Run `op` with the member's Spotify grant and return its value.

    Raises `NotLinked` without an account, `LinkExpired` when Spotify refuses the grant,
    `NotRegistered` for the development-mode refusal, and the adapter's classified
    `MusicServiceError`s otherwise. A 401 on the call itself (a token Spotify dropped
    early) is answered with one forced refresh and one retry; a 401 is never applied, so
    this is safe for writes too.
    """
    member = _MemberSession(sessions, cipher, adapter, discord_user_id)
    await member.load(gate=True)
    if member.needs_refresh():
        await member.refresh()
    try:
        try:
            return await _gated(sessions, member.call(op, write))
        except AuthExpired as exc:
            if exc.status != 401:
                raise member.expired(str(exc)) from exc
            log.info("Spotify dropped the access token of member %s early", discord_user_id)
            await member.refresh()
            return await _gated(sessions, member.call(op, write))
    except AuthExpired as exc:
        if isinstance(exc, LinkExpired):
            raise
        raise member.expired(str(exc)) from exc
    except MusicServiceError as exc:
        if is_unregistered_user(exc):
            raise NotRegistered(str(exc)) from exc
        raise


SPOTIFY_GATE = "spotify-app"


async def _gated(sessions: async_sessionmaker[AsyncSession], call: Awaitable[T]) -> T:
    """Run `call`; a 429 closes the gate for every process until its Retry-After passes."""
    try:
        return await call
    except RateLimited as exc:
        async with sessions.begin() as session:
            await rate_gates.close_until(
                session, SPOTIFY_GATE, datetime.now(UTC) + timedelta(seconds=exc.retry_after)
            )
        raise
