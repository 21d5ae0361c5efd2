"""Parse what people paste into a playlist reference, or say precisely why not.

Shared by the bot (an early, friendly error within Discord's deadline) and the workflows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_INPUT_LENGTH = 512
_SPOTIFY_ID = re.compile(r"^[A-Za-z0-9]{22}$")
_SPOTIFY_HOSTS = {"open.spotify.com", "play.spotify.com"}
_KINDS = {"album", "track", "artist", "episode", "show", "user", "playlist", "collection"}


@dataclass(frozen=True)
class PlaylistRef:
    """A playlist on a provider, by id."""

    provider: str
    playlist_id: str

    @property
    def url(self) -> str:
        return f"https://open.spotify.com/playlist/{self.playlist_id}"

    @property
    def uri(self) -> str:
        return f"spotify:playlist:{self.playlist_id}"


class PlaylistLinkError(ValueError):
    """The input is not a playlist link; the message says what it is instead."""


def parse_playlist_link(raw: str) -> PlaylistRef:
    """Accept `https://open.spotify.com/[intl-xx/]playlist/<id>[?si=..]`, `spotify:playlist:<id>`,
    with surrounding whitespace or Discord's `<...>` link suppression.

    Total: any other text raises PlaylistLinkError saying why, never another exception.
    """
    if len(raw) > MAX_INPUT_LENGTH:
        raise PlaylistLinkError(
            f"That is {len(raw):,} characters long; a playlist link is much shorter. "
            "Paste the link from Spotify's Share > Copy link to playlist."
        )
    text = raw.strip()
    if text.startswith("<") and text.endswith(">"):
        text = text[1:-1].strip()
    if not text:
        raise PlaylistLinkError(
            "Paste a Spotify playlist link, e.g. https://open.spotify.com/playlist/…"
        )
    if text.lower().startswith("spotify:"):
        return _from_uri(text)
    return _from_url(text)


def _from_uri(text: str) -> PlaylistRef:
    parts = text.split(":")
    if len(parts) == 3 and parts[1] == "playlist":
        return _checked(parts[2])
    if len(parts) == 5 and parts[1] == "user" and parts[3] == "playlist":  # legacy form
        return _checked(parts[4])
    kind = parts[1] if len(parts) > 1 else ""
    raise _wrong_kind(kind)


def _from_url(text: str) -> PlaylistRef:
    candidate = text if "://" in text else f"https://{text}"
    try:
        parts = urlsplit(candidate)
    except ValueError as exc:  # urllib refuses a stray "[" or "]", or a look-alike of "/?#@:"
        raise PlaylistLinkError(
            "That link has characters a web address can't hold there (a stray bracket, or a "
            "full-width sign such as ＃). Paste the link from Spotify's Share > Copy link to "
            "playlist."
        ) from exc
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or host not in _SPOTIFY_HOSTS:
        if host == "spotify.link" or host.endswith(".spotify.link"):
            raise PlaylistLinkError(
                "Short spotify.link links can't be read here. Open it in Spotify and use "
                "Share > Copy link to playlist instead."
            )
        raise PlaylistLinkError(
            "That isn't a Spotify link. Mixtape takes Spotify playlist links such as "
            "https://open.spotify.com/playlist/…"
        )
    segments = [s for s in parts.path.split("/") if s]
    if segments and segments[0].lower().startswith("intl-"):
        segments = segments[1:]
    if len(segments) >= 2 and segments[0] == "playlist":
        return _checked(segments[1])
    if len(segments) >= 4 and segments[0] == "user" and segments[2] == "playlist":
        return _checked(segments[3])
    raise _wrong_kind(segments[0] if segments else "")


def _checked(playlist_id: str) -> PlaylistRef:
    if not _SPOTIFY_ID.fullmatch(playlist_id):
        raise PlaylistLinkError(
            "That playlist link looks cut off or changed: the id should be 22 letters and digits."
        )
    return PlaylistRef(provider="spotify", playlist_id=playlist_id)


def _wrong_kind(kind: str) -> PlaylistLinkError:
    if kind in _KINDS and kind != "playlist":
        return PlaylistLinkError(
            f"That's a Spotify {kind} link, not a playlist. Share a playlist link instead."
        )
    return PlaylistLinkError(
        "That Spotify link doesn't point at a playlist. Use Share > Copy link to playlist."
    )
