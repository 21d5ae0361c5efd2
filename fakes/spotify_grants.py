"""Tokens, authorization codes and consents of the fake Spotify's Accounts service.

A mixin of `SpotifyState`: it shares the state's lock, clock and users.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
from collections import deque
from collections.abc import Callable, Iterable

from fakes.spotify_model import AccessToken, AuthCode, Consent, RefreshToken, TokenGrant, User

DEFAULT_SCOPES = (
    "playlist-read-private", "playlist-read-collaborative", "playlist-modify-public",
    "playlist-modify-private", "user-read-private", "user-read-email",
)  # fmt: skip


def pkce_challenge(verifier: str) -> str:
    """RFC 7636 S256: BASE64URL(SHA256(verifier)) without padding."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class OAuthError(Exception):
    """An Accounts-service refusal, answered as `{"error", "error_description"}`."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description


class Grants:
    """Access and refresh tokens, one-time codes and queued consents."""

    lock: threading.RLock
    clock: Callable[[], float]
    users: dict[str, User]
    default_client_id: str

    def _init_grants(self, token_lifetime: int) -> None:
        self.token_lifetime = token_lifetime
        self.code_lifetime = 600
        self.rotate_refresh_tokens = False
        self.access_tokens: dict[str, AccessToken] = {}
        self.refresh_tokens: dict[str, RefreshToken] = {}
        self.codes: dict[str, AuthCode] = {}
        self._consents: deque[Consent] = deque()
        #: Signed-in browsers (the `sp_dc` session cookie) and who approved which app for
        #: which scopes: Spotify skips its dialog for those unless `show_dialog=true`.
        self.sessions: dict[str, str] = {}
        self.approvals: dict[tuple[str, str], frozenset[str]] = {}

    def _new_access(self, client_id: str, user_id: str | None, scopes: frozenset[str]) -> str:
        token = "BQ" + secrets.token_urlsafe(48)
        expires = self.clock() + self.token_lifetime
        self.access_tokens[token] = AccessToken(token, client_id, user_id, scopes, expires)
        return token

    def _new_refresh(self, client_id: str, user_id: str, scopes: frozenset[str]) -> str:
        token = "AQ" + secrets.token_urlsafe(48)
        self.refresh_tokens[token] = RefreshToken(token, client_id, user_id, scopes)
        return token

    def issue_token(
        self,
        user_id: str,
        scopes: Iterable[str] = DEFAULT_SCOPES,
        client_id: str | None = None,
    ) -> TokenGrant:
        """A user grant without going through /authorize (for tests not about auth)."""
        with self.lock:
            if user_id not in self.users:
                raise KeyError(f"unknown user {user_id!r}")
            app_id, granted = client_id or self.default_client_id, frozenset(scopes)
            return TokenGrant(
                self._new_access(app_id, user_id, granted),
                self._new_refresh(app_id, user_id, granted),
                self.token_lifetime,
                " ".join(sorted(granted)),
            )

    def issue_app_token(self, client_id: str | None = None) -> str:
        """A client-credentials access token."""
        with self.lock:
            return self._new_access(client_id or self.default_client_id, None, frozenset())

    def lookup_access(self, token: str) -> AccessToken | None:
        with self.lock:
            return self.access_tokens.get(token)

    def expire_token(self, access_token: str) -> None:
        """Make one access token expired now, without waiting for its lifetime."""
        with self.lock:
            self.access_tokens[access_token].expires_at = self.clock() - 1

    def expire_tokens(self, user_id: str | None = None) -> None:
        """Expire every access token (of one user, if given)."""
        with self.lock:
            for grant in self.access_tokens.values():
                if user_id is None or grant.user_id == user_id:
                    grant.expires_at = self.clock() - 1

    def revoke_refresh_tokens(self, user_id: str) -> None:
        """As if the user removed the app's access: their refresh tokens stop working."""
        with self.lock:
            for grant in self.refresh_tokens.values():
                if grant.user_id == user_id:
                    grant.revoked = True

    def set_refresh_rotation(self, enabled: bool) -> None:
        """When on, refresh answers carry a new refresh_token and the old one stops working."""
        with self.lock:
            self.rotate_refresh_tokens = enabled

    def next_consent(self, user_id: str, *, deny: bool = False) -> None:
        """Queue who answers the next /authorize without a `fake_user` parameter."""
        with self.lock:
            self._consents.append(Consent(user_id, deny))

    def take_consent(self) -> Consent | None:
        with self.lock:
            return self._consents.popleft() if self._consents else None

    def sign_in(self, user_id: str) -> str:
        """A browser session for `user_id`: the value of the `sp_dc` cookie."""
        with self.lock:
            session = secrets.token_urlsafe(24)
            self.sessions[session] = user_id
            return session

    def approve(self, user_id: str, client_id: str, scopes: frozenset[str]) -> None:
        """Remember that the user agreed to the app for these scopes (Spotify does)."""
        with self.lock:
            key = (user_id, client_id)
            self.approvals[key] = self.approvals.get(key, frozenset()) | scopes

    def approved_session_user(
        self, session: str | None, client_id: str, scopes: frozenset[str]
    ) -> str | None:
        """The signed-in user, if they approved this app for all of `scopes` before."""
        with self.lock:
            user_id = self.sessions.get(session or "")
            if user_id is None:
                return None
            approved = self.approvals.get((user_id, client_id), frozenset())
            return user_id if scopes <= approved else None

    def create_code(
        self,
        client_id: str,
        redirect_uri: str,
        user_id: str,
        scopes: frozenset[str],
        code_challenge: str | None = None,
    ) -> str:
        with self.lock:
            code = "AQ" + secrets.token_urlsafe(64)
            expires = self.clock() + self.code_lifetime
            self.codes[code] = AuthCode(
                code, client_id, redirect_uri, user_id, scopes, expires, False, code_challenge
            )
            return code

    def exchange_code(
        self, client_id: str, code: str, redirect_uri: str, code_verifier: str | None = None
    ) -> TokenGrant:
        """authorization_code grant: the code works once, for its app, redirect URI and,
        when it was asked for with a PKCE challenge, the matching verifier."""
        with self.lock:
            grant = self.codes.get(code)
            if grant is None or grant.used or grant.client_id != client_id:
                raise OAuthError("invalid_grant", "Invalid authorization code")
            if grant.expires_at <= self.clock():
                raise OAuthError("invalid_grant", "Authorization code expired")
            if grant.redirect_uri != redirect_uri:
                raise OAuthError("invalid_grant", "Invalid redirect URI")
            if grant.code_challenge is not None:
                if not code_verifier:
                    raise OAuthError("invalid_request", "code_verifier required")
                if pkce_challenge(code_verifier) != grant.code_challenge:
                    raise OAuthError("invalid_grant", "code_verifier was incorrect")
            grant.used = True
            return TokenGrant(
                self._new_access(client_id, grant.user_id, grant.scopes),
                self._new_refresh(client_id, grant.user_id, grant.scopes),
                self.token_lifetime,
                " ".join(sorted(grant.scopes)),
            )

    def refresh(self, client_id: str, refresh_token: str) -> TokenGrant:
        """refresh_token grant; `refresh_token` in the answer only when rotation is on."""
        with self.lock:
            grant = self.refresh_tokens.get(refresh_token)
            if grant is None or grant.client_id != client_id:
                raise OAuthError("invalid_grant", "Invalid refresh token")
            if grant.revoked:
                raise OAuthError("invalid_grant", "Refresh token revoked")
            rotated = None
            if self.rotate_refresh_tokens:
                grant.revoked = True
                rotated = self._new_refresh(client_id, grant.user_id, grant.scopes)
            return TokenGrant(
                self._new_access(client_id, grant.user_id, grant.scopes),
                rotated,
                self.token_lifetime,
                " ".join(sorted(grant.scopes)),
            )
