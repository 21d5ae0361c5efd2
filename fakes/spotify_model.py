"""Records held by the fake Spotify: catalogue, users, playlists, apps, grants and calls.

Plain dataclasses with no behaviour beyond small derived values, so tests can read them
back directly. The mutable ones are only changed under `SpotifyState.lock`.
"""

from __future__ import annotations

import hashlib
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import quote_plus

BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
ID_LENGTH = 22

# A small stand-in for Spotify's ~185 markets: enough for market logic, small payloads.
ALL_MARKETS: tuple[str, ...] = (
    "AR", "AU", "BR", "CA", "DE", "DK", "ES", "FI", "FR", "GB",
    "IE", "IT", "JP", "MX", "NL", "NO", "NZ", "PL", "SE", "US",
)  # fmt: skip

# The scopes listed in the spec's oauth_2_0 security scheme; /authorize rejects others.
KNOWN_SCOPES = frozenset(
    {
        "app-remote-control", "playlist-read-private", "playlist-read-collaborative",
        "playlist-modify-public", "playlist-modify-private", "user-library-read",
        "user-library-modify", "user-read-private", "user-read-email", "user-follow-read",
        "user-follow-modify", "user-top-read", "user-read-playback-position",
        "user-read-playback-state", "user-read-recently-played", "user-read-currently-playing",
        "user-modify-playback-state", "ugc-image-upload", "streaming",
    }
)  # fmt: skip

FaultKind = Literal["429", "5xx", "delay", "drop", "stall"]
EntryKind = Literal["track", "episode", "local", "removed"]


def stable_id(*parts: str) -> str:
    """A 22-character base62 id derived from `parts`, so derived objects keep their ids."""
    number = int.from_bytes(hashlib.sha256("\x1f".join(parts).encode()).digest(), "big")
    chars = []
    for _ in range(ID_LENGTH):
        number, digit = divmod(number, 62)
        chars.append(BASE62[digit])
    return "".join(chars)


def is_base62_id(value: str) -> bool:
    """Whether `value` looks like a Spotify id (22 base62 characters)."""
    return len(value) == ID_LENGTH and all(ch in BASE62 for ch in value)


@dataclass(frozen=True)
class Artist:
    id: str
    name: str

    @property
    def uri(self) -> str:
        return f"spotify:artist:{self.id}"


@dataclass(frozen=True)
class Album:
    id: str
    name: str
    artists: tuple[Artist, ...]
    release_date: str = "2020-01-01"
    album_type: Literal["album", "single", "compilation"] = "album"
    total_tracks: int = 1

    @property
    def uri(self) -> str:
        return f"spotify:album:{self.id}"


@dataclass
class Track:
    id: str
    name: str
    artists: tuple[Artist, ...]
    album: Album
    duration_ms: int
    isrc: str
    available_markets: tuple[str, ...] = ALL_MARKETS
    explicit: bool = False
    popularity: int = 50
    track_number: int = 1
    disc_number: int = 1

    @property
    def uri(self) -> str:
        return f"spotify:track:{self.id}"

    def playable_in(self, market: str) -> bool:
        return market in self.available_markets


@dataclass(frozen=True)
class Show:
    id: str
    name: str
    publisher: str


@dataclass
class Episode:
    id: str
    name: str
    show: Show
    duration_ms: int = 1_800_000
    release_date: str = "2024-01-01"
    description: str = "An episode."
    available_markets: tuple[str, ...] = ALL_MARKETS

    @property
    def uri(self) -> str:
        return f"spotify:episode:{self.id}"


@dataclass(frozen=True)
class LocalFile:
    """A playlist entry pointing at a file on the owner's device (`is_local: true`)."""

    title: str
    artist: str
    album: str = ""
    duration_ms: int = 180_000

    @property
    def uri(self) -> str:
        parts = (self.artist, self.album, self.title)
        return (
            "spotify:local:"
            + ":".join(quote_plus(p) for p in parts)
            + (f":{self.duration_ms // 1000}")
        )


@dataclass(frozen=True)
class Removed:
    """A playlist entry whose item Spotify no longer serves (`item: null`)."""


@dataclass
class Entry:
    kind: EntryKind
    ref: str  # track/episode id, local-file uri, or "" for a removed item
    added_by: str
    added_at: str
    local: LocalFile | None = None


@dataclass
class User:
    id: str
    display_name: str
    country: str = "SE"
    product: str = "premium"
    email: str = ""

    @property
    def uri(self) -> str:
        return f"spotify:user:{self.id}"


@dataclass
class Playlist:
    id: str
    owner_id: str
    name: str
    description: str | None = None
    public: bool = True
    collaborative: bool = False
    collaborators: set[str] = field(default_factory=set)
    entries: list[Entry] = field(default_factory=list)
    version: int = 0
    snapshot_id: str = ""
    followers: int = 0

    @property
    def uri(self) -> str:
        return f"spotify:playlist:{self.id}"

    def is_member(self, user_id: str | None) -> bool:
        """Owner or collaborator: the users who may read entries and change the playlist."""
        return user_id is not None and (user_id == self.owner_id or user_id in self.collaborators)


@dataclass
class App:
    client_id: str
    client_secret: str
    redirect_uris: set[str]
    # Development mode: only these users may call the Web API through the app.
    allowed_users: set[str] | None = None


@dataclass
class AccessToken:
    token: str
    client_id: str
    user_id: str | None  # None for client-credentials tokens
    scopes: frozenset[str]
    expires_at: float


@dataclass
class RefreshToken:
    token: str
    client_id: str
    user_id: str
    scopes: frozenset[str]
    revoked: bool = False


@dataclass
class AuthCode:
    code: str
    client_id: str
    redirect_uri: str
    user_id: str
    scopes: frozenset[str]
    expires_at: float
    used: bool = False
    #: PKCE (RFC 7636, S256): the token request must then carry the matching verifier.
    code_challenge: str | None = None


@dataclass(frozen=True)
class TokenGrant:
    """What a test gets from `issue_token`: the same values /api/token would answer."""

    access_token: str
    refresh_token: str | None
    expires_in: int
    scope: str


@dataclass(frozen=True)
class Consent:
    user_id: str
    deny: bool = False


@dataclass(frozen=True)
class CallRecord:
    """One request as the fake saw it. `at` is `time.monotonic()` at arrival."""

    at: float
    method: str
    route: str
    path: str
    user_id: str | None
    app_id: str | None
    status: int
    query: Mapping[str, str]
    fault: str | None = None  # "429", "5xx", "delay", "drop", "rate_limit"
    dropped: bool = False
    retry_after: int | None = None


@dataclass
class Fault:
    """An injected failure; `remaining` None means every matching call until cleared."""

    route: str
    kind: FaultKind
    remaining: int | None
    status: int = 0
    retry_after: int = 1
    seconds: float = 0.0
    message: str | None = None
    reason: str | None = None
    user: str | None = None
    fired: int = 0
    skip: int = 0  # matching calls let through before the fault starts firing


@dataclass(frozen=True)
class RetryAfterWindow:
    """Interval after a 429 during which its app (and user) should not call again."""

    service: Literal["api", "accounts"]
    app_id: str | None
    user_id: str | None
    route: str
    start: float
    end: float


# Stable route names used for call counting and fault injection.
ROUTES: frozenset[str] = frozenset(
    {
        "GET /authorize",
        "POST /api/token",
        "GET /v1/me",
        "GET /v1/me/playlists",
        "POST /v1/me/playlists",
        "GET /v1/playlists/{id}",
        "GET /v1/playlists/{id}/items",
        "POST /v1/playlists/{id}/items",
        "DELETE /v1/playlists/{id}/items",
        "DELETE /v1/playlists/{id}/followers",
        "GET /v1/search",
        "GET /v1/tracks/{id}",
    }
)
UNMATCHED_ROUTE = "UNMATCHED"
