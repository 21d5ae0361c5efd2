"""JSON shapes of the fake Spotify, following the component schemas of the Web API spec.

Every function returns plain dicts. `api` is the absolute Web API base the client used
(`http://127.0.0.1:PORT/v1/`), so every `href`/`next` the fake hands out can be followed.
Fields the spec marks deprecated are still sent while the spec lists them, as Spotify does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from fakes.spotify_model import (
    Album,
    Artist,
    Entry,
    Episode,
    LocalFile,
    Playlist,
    Show,
    Track,
    User,
    stable_id,
)
from fakes.spotify_scopes import USER_EMAIL, USER_PRIVATE

JSON = dict[str, Any]


def error_body(status: int, message: str, reason: str | None = None) -> JSON:
    """Spotify's Web API error object, `{"error": {"status", "message"}}`."""
    error: JSON = {"status": status, "message": message}
    if reason is not None:
        error["reason"] = reason
    return {"error": error}


def _links(api: str, kind: str, obj_id: str) -> JSON:
    return {
        "external_urls": {"spotify": f"https://open.spotify.com/{kind}/{obj_id}"},
        "href": f"{api}{kind}s/{obj_id}",
        "id": obj_id,
        "uri": f"spotify:{kind}:{obj_id}",
    }


def _images(seed: str) -> list[JSON]:
    digest = stable_id("image", seed)
    return [
        {"url": f"https://i.scdn.co/image/{digest}{size}", "height": size, "width": size}
        for size in (640, 300, 64)
    ]


def artist_json(api: str, artist: Artist) -> JSON:
    """SimplifiedArtistObject."""
    return {**_links(api, "artist", artist.id), "name": artist.name, "type": "artist"}


def album_json(api: str, album: Album, markets: Sequence[str]) -> JSON:
    """SimplifiedAlbumObject (AlbumBase requires `available_markets`, so it is always sent)."""
    precision = {4: "year", 7: "month"}.get(len(album.release_date), "day")
    return {
        **_links(api, "album", album.id),
        "album_type": album.album_type,
        "total_tracks": album.total_tracks,
        "available_markets": list(markets),
        "images": _images(album.id),
        "name": album.name,
        "release_date": album.release_date,
        "release_date_precision": precision,
        "type": "album",
        "artists": [artist_json(api, a) for a in album.artists],
    }


def track_json(api: str, track: Track, market: str | None) -> JSON:
    """TrackObject. With a market, relinking fields replace `available_markets`."""
    body: JSON = {
        **_links(api, "track", track.id),
        "album": album_json(api, track.album, track.available_markets),
        "artists": [artist_json(api, a) for a in track.artists],
        "disc_number": track.disc_number,
        "duration_ms": track.duration_ms,
        "explicit": track.explicit,
        "external_ids": {"isrc": track.isrc},
        "name": track.name,
        "popularity": track.popularity,
        "preview_url": None,
        "track_number": track.track_number,
        "type": "track",
        "is_local": False,
    }
    if market is None:
        body["available_markets"] = list(track.available_markets)
    else:
        body["is_playable"] = track.playable_in(market)
        if not body["is_playable"]:
            body["restrictions"] = {"reason": "market"}
    return body


def local_track_json(local: LocalFile) -> JSON:
    """TrackObject for a local file.

    Spotify sends `null` for a local file's ids, hrefs and album fields, which the spec's
    TrackObject cannot express (those fields are plain strings there); the fake leaves them
    out instead, so clients must read them with `.get()` either way.
    """
    return {
        "artists": [{"name": local.artist, "type": "artist"}],
        "available_markets": [],
        "disc_number": 0,
        "duration_ms": local.duration_ms,
        "explicit": False,
        "external_ids": {},
        "external_urls": {},
        "name": local.title,
        "popularity": 0,
        "preview_url": None,
        "track_number": 0,
        "type": "track",
        "uri": local.uri,
        "is_local": True,
    }


def show_json(api: str, show: Show, markets: Sequence[str]) -> JSON:
    """SimplifiedShowObject (ShowBase)."""
    return {
        **_links(api, "show", show.id),
        "available_markets": list(markets),
        "copyrights": [],
        "description": f"{show.name}, a podcast.",
        "html_description": f"<p>{show.name}, a podcast.</p>",
        "explicit": False,
        "images": _images(show.id),
        "is_externally_hosted": False,
        "languages": ["en"],
        "media_type": "audio",
        "name": show.name,
        "publisher": show.publisher,
        "type": "show",
        "total_episodes": 1,
    }


def episode_json(api: str, episode: Episode, market: str | None) -> JSON:
    """EpisodeObject."""
    playable = market is None or market in episode.available_markets
    return {
        **_links(api, "episode", episode.id),
        "audio_preview_url": None,
        "description": episode.description,
        "html_description": f"<p>{episode.description}</p>",
        "duration_ms": episode.duration_ms,
        "explicit": False,
        "images": _images(episode.id),
        "is_externally_hosted": False,
        "is_playable": playable,
        "language": "en",
        "languages": ["en"],
        "name": episode.name,
        "release_date": episode.release_date,
        "release_date_precision": "day",
        "type": "episode",
        "show": show_json(api, episode.show, episode.available_markets),
    }


def episode_as_track_json(api: str, episode: Episode, market: str | None) -> JSON:
    """An episode for a client whose `additional_types` leaves out `episode`.

    The spec's QueryAdditionalTypes: `track` is the default type and `episode` one a client
    says it supports "besides" it, so a client that does not say so is not sent an
    EpisodeObject. Spotify then sends the episode in a track-shaped legacy form
    (spotify/web-api#1511, #1528): TrackObject's fields, the show as its `album`, the
    publisher as its artist, zero disc and track numbers, `"episode": true, "track": false`,
    and still `"type": "episode"` with the episode's own id and URI, which is what the spec
    tells clients to check.
    """
    show = episode.show
    album: JSON = {
        **_links(api, "show", show.id),
        "album_type": "show",
        "total_tracks": 1,
        "available_markets": list(episode.available_markets),
        "images": _images(show.id),
        "name": show.name,
        "release_date": episode.release_date,
        "release_date_precision": "day",
        "type": "show",
        "artists": [{"name": show.publisher, "type": "artist"}],
    }
    body: JSON = {
        **_links(api, "episode", episode.id),
        "album": album,
        "artists": [{"name": show.publisher, "type": "artist"}],
        "disc_number": 0,
        "duration_ms": episode.duration_ms,
        "episode": True,
        "explicit": False,
        "external_ids": {"spotify": f"https://open.spotify.com/episode/{episode.id}"},
        "name": episode.name,
        "popularity": 0,
        "preview_url": None,
        "track": False,
        "track_number": 0,
        "type": "episode",
        "is_local": False,
    }
    if market is None:
        body["available_markets"] = list(episode.available_markets)
    else:
        body["is_playable"] = market in episode.available_markets
    return body


def user_ref_json(api: str, user_id: str) -> JSON:
    """PlaylistUserObject (`added_by`)."""
    return {
        "external_urls": {"spotify": f"https://open.spotify.com/user/{user_id}"},
        "href": f"{api}users/{user_id}",
        "id": user_id,
        "type": "user",
        "uri": f"spotify:user:{user_id}",
    }


def owner_json(api: str, user: User) -> JSON:
    """PlaylistOwnerObject."""
    return {**user_ref_json(api, user.id), "display_name": user.display_name}


def private_user_json(api: str, user: User, scopes: frozenset[str]) -> JSON:
    """PrivateUserObject; the scope-gated fields appear only with their scope, as on Spotify."""
    body: JSON = {
        **user_ref_json(api, user.id),
        "account_id": stable_id("account", user.id)[:10],
        "display_name": user.display_name,
        "followers": {"href": None, "total": 0},
        "images": [],
    }
    if USER_EMAIL in scopes:
        body["email"] = user.email
    if USER_PRIVATE in scopes:
        body["country"] = user.country
        body["product"] = user.product
        body["explicit_content"] = {"filter_enabled": False, "filter_locked": False}
    return body


def entry_json(api: str, entry: Entry, item: JSON | None) -> JSON:
    """PlaylistTrackObject carrying the song in `item` and in the deprecated `track`."""
    return {
        "added_at": entry.added_at,
        "added_by": user_ref_json(api, entry.added_by),
        "is_local": entry.kind == "local",
        "item": item,
        "track": item,
    }


def paging_json(
    href_base: str,
    params: Mapping[str, str],
    items: list[JSON],
    *,
    offset: int,
    limit: int,
    total: int,
) -> JSON:
    """PagingObject whose `href`/`next`/`previous` repeat the request's other parameters."""

    def url(at: int) -> str:
        return f"{href_base}?{urlencode({**params, 'offset': at, 'limit': limit})}"

    return {
        "href": url(offset),
        "items": items,
        "limit": limit,
        "next": url(offset + limit) if offset + limit < total else None,
        "offset": offset,
        "previous": url(max(0, offset - limit)) if offset > 0 else None,
        "total": total,
    }


def playlist_json(api: str, playlist: Playlist, owner: User, items_page: JSON | None) -> JSON:
    """PlaylistObject; `items_page` is None when the caller may not read the entries."""
    body: JSON = {
        **_links(api, "playlist", playlist.id),
        "collaborative": playlist.collaborative,
        "description": playlist.description,
        "followers": {"href": None, "total": playlist.followers},
        "images": _images(playlist.id)[:1] if playlist.entries else [],
        "name": playlist.name,
        "owner": owner_json(api, owner),
        "public": playlist.public,
        "snapshot_id": playlist.snapshot_id,
        "type": "playlist",
    }
    if items_page is not None:
        body["items"] = items_page
        body["tracks"] = items_page
    return body


def simplified_playlist_json(api: str, playlist: Playlist, owner: User) -> JSON:
    """SimplifiedPlaylistObject, as listed by GET /me/playlists."""
    ref = {"href": f"{api}playlists/{playlist.id}/items", "total": len(playlist.entries)}
    body = playlist_json(api, playlist, owner, None)
    del body["followers"]
    if body["description"] is None:
        body["description"] = ""  # not nullable in SimplifiedPlaylistObject
    return {**body, "items": ref, "tracks": ref}
