"""The in-memory world of the fake Spotify, shared by its handlers and by tests.

Handlers run on the server's thread and tests mutate from theirs, so every method takes
`lock` (a re-entrant lock never held across an `await`).
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime

from fakes.spotify_calls import CallLog
from fakes.spotify_catalog import generate_tracks
from fakes.spotify_grants import DEFAULT_SCOPES, Grants, OAuthError
from fakes.spotify_model import (
    ALL_MARKETS,
    Album,
    App,
    Artist,
    Entry,
    Episode,
    LocalFile,
    Playlist,
    Removed,
    Show,
    Track,
    User,
    stable_id,
)
from fakes.spotify_search import SearchIndex

__all__ = ["DEFAULT_SCOPES", "EntrySpec", "OAuthError", "SpotifyState"]

DEFAULT_CLIENT_ID = "mixtape-client"
DEFAULT_CLIENT_SECRET = "mixtape-secret"  # noqa: S105 - a fake credential
DEFAULT_REDIRECT_URI = "http://127.0.0.1:8765/callback"
EntrySpec = str | Track | Episode | LocalFile | Removed


def _now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _snapshot(playlist_id: str, version: int) -> str:
    raw = f"{version:08x}" + stable_id("snapshot", playlist_id, str(version))
    return base64.b64encode(raw.encode()).decode()


class SpotifyState(Grants, CallLog):
    """Users, catalogue and playlists; grants, faults and calls come from the mixins."""

    def __init__(
        self,
        *,
        client_id: str = DEFAULT_CLIENT_ID,
        client_secret: str = DEFAULT_CLIENT_SECRET,
        redirect_uris: Sequence[str] = (DEFAULT_REDIRECT_URI,),
        token_lifetime: int = 3600,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.lock = threading.RLock()
        self.clock = clock
        self.apps: dict[str, App] = {}
        self.users: dict[str, User] = {}
        self.tracks: dict[str, Track] = {}
        self.episodes: dict[str, Episode] = {}
        self.playlists: dict[str, Playlist] = {}
        self._playlists_made = 0  # ids never come back, even after a delete (as on Spotify)
        #: (playlist, user) pairs where the user unfollowed: "deleted" it from their library.
        self.unfollowed: set[tuple[str, str]] = set()
        self._isrcs: dict[str, str] = {}
        self.search_index = SearchIndex()
        self.default_client_id = client_id
        self._init_grants(token_lifetime)
        self._init_calls()
        self.add_app(client_id, client_secret, redirect_uris)

    # ----------------------------------------------------------------- apps & users

    def add_app(self, client_id: str, client_secret: str, redirect_uris: Iterable[str]) -> App:
        """Register an app (client) with its allowed redirect URIs."""
        with self.lock:
            app = App(client_id, client_secret, set(redirect_uris))
            self.apps[client_id] = app
            return app

    @property
    def default_app(self) -> App:
        return self.apps[self.default_client_id]

    def set_development_mode(
        self, allowed_users: Iterable[str] | None, client_id: str | None = None
    ) -> None:
        """Restrict the app to an allow-list (None lifts it), as Spotify's development mode.

        Users off the list still get through /authorize and /api/token; their Web API calls
        answer 403 with the plain-text body Spotify sends.
        """
        with self.lock:
            app = self.apps[client_id or self.default_client_id]
            app.allowed_users = None if allowed_users is None else set(allowed_users)

    def add_user(
        self,
        user_id: str,
        display_name: str | None = None,
        *,
        country: str = "SE",
        product: str = "premium",
        email: str | None = None,
    ) -> User:
        with self.lock:
            if user_id in self.users:
                raise ValueError(f"user {user_id!r} exists")
            user = User(
                user_id,
                display_name or user_id,
                country,
                product,
                email or f"{user_id}@example.test",
            )
            self.users[user_id] = user
            return user

    # ----------------------------------------------------------------- catalogue

    def _register_track(self, track: Track) -> Track:
        if track.id in self.tracks:
            raise ValueError(f"track id {track.id} is already in the catalogue")
        if track.isrc in self._isrcs:
            raise ValueError(f"ISRC {track.isrc} is already in the catalogue")
        self.tracks[track.id] = track
        self._isrcs[track.isrc] = track.id
        self.search_index.add(track)
        return track

    def add_track(
        self,
        name: str,
        artists: str | Sequence[str],
        *,
        album: str | None = None,
        duration_ms: int = 200_000,
        isrc: str | None = None,
        available_markets: Sequence[str] = ALL_MARKETS,
        track_id: str | None = None,
        explicit: bool = False,
        popularity: int = 50,
    ) -> Track:
        """Add one catalogue track; ids and a unique ISRC are derived when not given."""
        names = (artists,) if isinstance(artists, str) else tuple(artists)
        people = tuple(Artist(stable_id("artist", n), n) for n in names)
        album_name = album or name
        with self.lock:
            isrc = isrc or f"QZFAK{len(self.tracks) % 100:02d}{len(self.tracks):05d}"
            track = Track(
                id=track_id or stable_id("track", name, *names, isrc),
                name=name,
                artists=people,
                album=Album(stable_id("album", album_name, *names), album_name, people[:1]),
                duration_ms=duration_ms,
                isrc=isrc,
                available_markets=tuple(available_markets),
                explicit=explicit,
                popularity=popularity,
            )
            return self._register_track(track)

    def generate_tracks(
        self, count: int, seed: int = 0, *, unavailable_ratio: float = 0.0
    ) -> list[Track]:
        """Add `count` realistic, unique tracks; the same count and seed give the same tracks.

        ValueError if any of them is already in the catalogue (the same seed used twice).
        """
        tracks = generate_tracks(count, seed, unavailable_ratio=unavailable_ratio)
        with self.lock:
            clash = next((t for t in tracks if t.id in self.tracks or t.isrc in self._isrcs), None)
            if clash is not None:
                raise ValueError(
                    f"track {clash.id} ({clash.isrc}) is already in the catalogue; use another seed"
                )
            return [self._register_track(t) for t in tracks]

    def add_episode(
        self,
        name: str,
        show: str = "Fake Show",
        *,
        publisher: str = "Fake Publisher",
        duration_ms: int = 1_800_000,
        episode_id: str | None = None,
        available_markets: Sequence[str] = ALL_MARKETS,
    ) -> Episode:
        with self.lock:
            episode = Episode(
                id=episode_id or stable_id("episode", show, name),
                name=name,
                show=Show(stable_id("show", show), show, publisher),
                duration_ms=duration_ms,
                available_markets=tuple(available_markets),
            )
            self.episodes[episode.id] = episode
            return episode

    def find_by_isrc(self, isrc: str) -> Track | None:
        with self.lock:
            track_id = self._isrcs.get(isrc.upper())
            return None if track_id is None else self.tracks[track_id]

    # ----------------------------------------------------------------- playlists

    def _entry(self, spec: EntrySpec, added_by: str) -> Entry:
        stamp = _now_iso()
        if isinstance(spec, Track | Episode):
            spec = spec.uri
        if isinstance(spec, LocalFile):
            return Entry("local", spec.uri, added_by, stamp, local=spec)
        if isinstance(spec, Removed):
            return Entry("removed", "", added_by, stamp)
        kind, _, item_id = spec.removeprefix("spotify:").partition(":")
        if kind == "track" and item_id in self.tracks:
            return Entry("track", item_id, added_by, stamp)
        if kind == "episode" and item_id in self.episodes:
            return Entry("episode", item_id, added_by, stamp)
        raise ValueError(f"not a known track or episode URI: {spec!r}")

    def resolve_uris(self, uris: Sequence[str], added_by: str) -> list[Entry]:
        """Entries for track/episode URIs; ValueError names the first unknown one."""
        with self.lock:
            return [self._entry(uri, added_by) for uri in uris]

    def add_playlist(
        self,
        owner: str,
        name: str = "Playlist",
        items: Iterable[EntrySpec] = (),
        *,
        public: bool = True,
        collaborative: bool = False,
        description: str | None = None,
        collaborators: Iterable[str] = (),
        playlist_id: str | None = None,
    ) -> Playlist:
        """Create a playlist owned by `owner` holding `items` (URIs, LocalFile, Removed...)."""
        with self.lock:
            if owner not in self.users:
                raise KeyError(f"unknown user {owner!r}")
            self._playlists_made += 1
            pid = playlist_id or stable_id("playlist", owner, str(self._playlists_made), name)
            if pid in self.playlists:
                raise ValueError(f"playlist {pid} exists")
            playlist = Playlist(pid, owner, name, description, public, collaborative)
            playlist.entries = [self._entry(spec, owner) for spec in items]
            self.playlists[pid] = playlist
            self._bump(playlist)
            for user_id in collaborators:
                self.add_collaborator(pid, user_id)
            return playlist

    def delete_playlist(self, playlist_id: str) -> None:
        """The playlist is gone: every later read of it answers 404."""
        with self.lock:
            del self.playlists[playlist_id]

    def add_collaborator(self, playlist_id: str, user_id: str) -> None:
        """Let `user_id` read and change the playlist (makes it collaborative and private)."""
        with self.lock:
            playlist = self.playlists[playlist_id]
            if user_id not in self.users:
                raise KeyError(f"unknown user {user_id!r}")
            playlist.collaborators.add(user_id)
            playlist.collaborative, playlist.public = True, False

    def insert_entries(self, playlist_id: str, entries: list[Entry], position: int | None) -> str:
        """Insert (or append) entries; returns the new snapshot id."""
        with self.lock:
            playlist = self.playlists[playlist_id]
            at = len(playlist.entries) if position is None else position
            playlist.entries[at:at] = entries
            return self._bump(playlist)

    def remove_entries(self, playlist_id: str, positions: Sequence[int]) -> str:
        """Remove the entries at `positions` (as the owner does in the app); the new snapshot."""
        with self.lock:
            playlist = self.playlists[playlist_id]
            for at in sorted(set(positions), reverse=True):
                del playlist.entries[at]
            return self._bump(playlist)

    def remove_uris(self, playlist_id: str, uris: Iterable[str]) -> str:
        """Remove every occurrence of each URI (what the Web API's remove does: it takes
        no positions); URIs the playlist does not hold are ignored. The new snapshot."""
        gone = set(uris)
        with self.lock:
            playlist = self.playlists[playlist_id]
            playlist.entries[:] = [e for e in playlist.entries if self._entry_uri(e) not in gone]
            return self._bump(playlist)

    def _bump(self, playlist: Playlist) -> str:
        playlist.version += 1
        playlist.snapshot_id = _snapshot(playlist.id, playlist.version)
        return playlist.snapshot_id

    def playlist(self, playlist_id: str) -> Playlist:
        with self.lock:
            return self.playlists[playlist_id]

    def playlist_uris(self, playlist_id: str) -> list[str | None]:
        """The playlist's item URIs in order (local-file URIs included, None if removed)."""
        with self.lock:
            entries = self.playlists[playlist_id].entries
            return [self._entry_uri(e) for e in entries]

    @staticmethod
    def _entry_uri(entry: Entry) -> str | None:
        if entry.kind in ("track", "episode"):
            return f"spotify:{entry.kind}:{entry.ref}"
        return entry.ref or None

    def unfollow_playlist(self, playlist_id: str, user_id: str) -> None:
        """What "Delete" does in Spotify's apps: the user unfollows the playlist. It leaves
        their library (`/me/playlists`) but still exists, and its owner can still read and
        add to it through the API."""
        with self.lock:
            if playlist_id not in self.playlists:
                raise KeyError(f"unknown playlist {playlist_id!r}")
            self.unfollowed.add((playlist_id, user_id))

    def library_of(self, user_id: str) -> list[Playlist]:
        """The playlists `/me/playlists` lists: owned or collaborated on, not unfollowed."""
        with self.lock:
            return [p for p in self.playlists_of(user_id) if (p.id, user_id) not in self.unfollowed]

    def playlists_of(self, user_id: str) -> list[Playlist]:
        """Playlists the user owns or collaborates on, oldest first."""
        with self.lock:
            return [p for p in self.playlists.values() if p.is_member(user_id)]
