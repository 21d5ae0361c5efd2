"""Turn what spotipy and requests raise into our three kinds of failure.

spotipy must be given a plain `requests.Session`: its own session mounts urllib3 retries
that, even with `retries=0`, turn a 429 into a `RetryError` re-raised without the response
headers (the `Retry-After` we must honour is lost) and report a 5xx as a 429.
"""

from __future__ import annotations

from collections.abc import Mapping

import requests
from spotipy.exceptions import SpotifyException, SpotifyOauthError

from music.errors import AuthExpired, MusicServiceError, Permanent, RateLimited, Transient

DEFAULT_RETRY_AFTER_SECONDS = 5.0
_TRANSIENT_STATUSES = {500, 502, 503, 504}


def retry_after_seconds(headers: Mapping[str, str] | None) -> float:
    """Spotify sends whole seconds; a missing or odd header waits a safe default."""
    raw = (headers or {}).get("Retry-After") or (headers or {}).get("retry-after")
    try:
        value = float(raw) if raw is not None else DEFAULT_RETRY_AFTER_SECONDS
    except ValueError:
        value = DEFAULT_RETRY_AFTER_SECONDS
    return max(value, 0.0)


def classify(exc: BaseException, *, write: bool = False) -> MusicServiceError | None:
    """Classify one failed call. `write` marks calls whose effect may have landed.

    None for anything that is not a service failure (a bug of ours, say): the caller lets
    it propagate as it is, so it is never reported as Spotify's refusal or the member's
    expired link.
    """
    if isinstance(exc, MusicServiceError):
        return exc
    if isinstance(exc, SpotifyException):
        return _classify_status(exc)
    if isinstance(exc, SpotifyOauthError):
        return _classify_oauth(exc)
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return Transient(f"connect timeout: {exc}", ambiguous=False)
    if isinstance(exc, requests.exceptions.Timeout):
        return Transient(f"timeout: {exc}", ambiguous=write)
    if isinstance(exc, requests.exceptions.ConnectionError):
        # A refused connection never reached Spotify; a reset or a dropped answer may have.
        refused = "refused" in str(exc).lower()
        return Transient(f"connection error: {exc}", ambiguous=write and not refused)
    if isinstance(exc, requests.exceptions.RequestException):
        return Transient(f"request failed: {exc}", ambiguous=write)
    return None


def _classify_status(exc: SpotifyException) -> MusicServiceError:
    status = exc.http_status
    message = _short(exc)
    if status == 429:
        return RateLimited(retry_after_seconds(exc.headers), reason=exc.reason or None)
    if status in _TRANSIENT_STATUSES:
        # The server answered, but a 5xx after a write does not prove it did nothing.
        return Transient(f"Spotify {status}: {message}", ambiguous=True)
    if status == 401:
        return AuthExpired(f"Spotify refused the access token: {message}", status=status)
    if status == 400 and "invalid_grant" in message:
        return AuthExpired(f"Spotify refused the grant: {message}", status=status)
    return Permanent(f"Spotify {status}: {message}", status=status)


_GRANT_ERRORS = {"invalid_grant", "invalid_client", "unauthorized_client", "access_denied"}


def _classify_oauth(exc: SpotifyOauthError) -> MusicServiceError:
    """The Accounts service answers JSON errors for bad grants and bare text for outages."""
    if exc.error in _GRANT_ERRORS:
        return AuthExpired(f"Spotify refused the grant: {exc.error_description or exc.error}")
    return Transient(f"Spotify accounts service failed: {exc}", ambiguous=False)


def _short(exc: SpotifyException) -> str:
    text = str(exc.msg).split("\n", 1)[-1].strip()
    return text[:300]
