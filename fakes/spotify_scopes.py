"""What each OAuth scope unlocks on the fake Spotify, per route and per field.

One place for the rules, so a client tested against the fake must ask for the scopes the
real Spotify wants. From the spec's text (each operation's `security`, the field notes of
PrivateUserObject and of the create-playlist body) and, where it is silent, from Spotify's
scope documentation:

- GET /me answers any user token; `country`, `product` and `explicit_content` only with
  user-read-private, `email` only with user-read-email ("This field is only available when
  the current user has granted access to the ... scope").
- GET /me/playlists lists public playlists with any user token, private ones only with
  playlist-read-private, and collaborative ones (always private) only with
  playlist-read-collaborative: "this scope alone will not return collaborative playlists".
- A private playlist's entries (GET /playlists/{id}/items, whose security names
  playlist-read-private, and the `items` field of GET /playlists/{id}) need
  playlist-read-private, collaborative ones included; the route answers 403 without it and
  the playlist object leaves the field out.
- Creating (POST /me/playlists) needs playlist-modify-public for a public playlist,
  playlist-modify-private for a private one and both for a collaborative one.
- Adding entries (POST /playlists/{id}/items) needs the modify scope matching the target's
  `public` flag.
"""

from __future__ import annotations

from collections.abc import Set

from fakes.spotify_model import Playlist

USER_PRIVATE = "user-read-private"
USER_EMAIL = "user-read-email"
READ_PRIVATE = "playlist-read-private"
READ_COLLABORATIVE = "playlist-read-collaborative"
MODIFY_PUBLIC = "playlist-modify-public"
MODIFY_PRIVATE = "playlist-modify-private"
#: Spotify's message for a token lacking a scope (403, in its usual error object).
INSUFFICIENT = "Insufficient client scope"


def listed(playlist: Playlist, scopes: Set[str]) -> bool:
    """Whether GET /me/playlists shows this playlist to a token with `scopes`."""
    if playlist.collaborative:
        return READ_COLLABORATIVE in scopes
    return playlist.public or READ_PRIVATE in scopes


def may_read_entries(playlist: Playlist, scopes: Set[str]) -> bool:
    """Whether a member's token with `scopes` may read the playlist's entries."""
    return playlist.public or READ_PRIVATE in scopes


def to_create(public: bool, collaborative: bool) -> frozenset[str]:
    """The scopes creating a playlist with these flags needs (all of them)."""
    if collaborative:
        return frozenset({MODIFY_PUBLIC, MODIFY_PRIVATE})
    return frozenset({MODIFY_PUBLIC if public else MODIFY_PRIVATE})


def to_modify(playlist: Playlist) -> str:
    """The scope changing this playlist's entries needs."""
    return MODIFY_PUBLIC if playlist.public else MODIFY_PRIVATE
