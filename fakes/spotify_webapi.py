"""Handlers of the fake Web API (`/v1/...`), answering in the spec's shapes.

Each handler authenticates the way Spotify does (bearer token, expiry, development-mode
allow-list, scopes as `fakes.spotify_scopes` states them), validates parameters against the
spec's limits and raises `ApiError` for refusals; the middleware in `fakes.spotify` turns
those into Spotify's error object.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from aiohttp import web

from fakes import spotify_scopes as scopes
from fakes.spotify_fields import FieldsError, Selection, apply_fields, parse_fields
from fakes.spotify_model import AccessToken, Entry, Playlist, Track, User, is_base62_id
from fakes.spotify_render import (
    JSON,
    entry_json,
    episode_as_track_json,
    episode_json,
    error_body,
    local_track_json,
    paging_json,
    playlist_json,
    private_user_json,
    simplified_playlist_json,
    track_json,
)
from fakes.spotify_state import SpotifyState

STATE: web.AppKey[SpotifyState] = web.AppKey("spotify_state", SpotifyState)
# Who a call turned out to be from, when only the handler can tell (Accounts calls).
APP_ID: web.RequestKey[str] = web.RequestKey("spotify_app_id", str)
USER_ID: web.RequestKey[str] = web.RequestKey("spotify_user_id", str)

MAX_PAGE = 50  # QueryLimit maximum for playlist items and /me/playlists
MAX_ADD = 100  # add-items-to-playlist: at most 100 URIs per request
MAX_SEARCH = 10  # search: at most 10 per type, default 5
SEARCH_TYPES = ("album", "artist", "playlist", "track", "show", "episode", "audiobook")
_ITEM_URI = re.compile(r"^spotify:(track|episode):([0-9A-Za-z]{22})$")
_MARKET = re.compile(r"^[A-Z]{2}$")


class ApiError(Exception):
    """A refusal; `plain` sends the message as text/plain, as Spotify's dev-mode 403 does."""

    def __init__(self, status: int, message: str, *, plain: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.plain = plain

    def response(self) -> web.Response:
        if self.plain:
            return web.Response(status=self.status, text=self.message)
        return web.json_response(error_body(self.status, self.message), status=self.status)


def api_base(request: web.Request) -> str:
    """The absolute `/v1/` base as the client addressed it, for hrefs it can follow."""
    return f"{request.url.origin()}/v1/"


def bearer(request: web.Request) -> AccessToken:
    """The request's valid access token, or the 400/401/403 Spotify would answer."""
    state = request.app[STATE]
    header = request.headers.get("Authorization", "")
    if not header:
        raise ApiError(401, "No token provided")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise ApiError(400, "Only valid bearer authentication supported")
    grant = state.lookup_access(token)
    if grant is None:
        raise ApiError(401, "Invalid access token")
    if grant.expires_at <= state.clock():
        raise ApiError(401, "The access token expired")
    allowed = state.apps[grant.client_id].allowed_users
    if grant.user_id is not None and allowed is not None and grant.user_id not in allowed:
        raise ApiError(403, "User not registered in the Developer Dashboard", plain=True)
    return grant


def user_bearer(request: web.Request) -> tuple[AccessToken, User]:
    """A user's token (an app token has no current user)."""
    grant = bearer(request)
    if grant.user_id is None:
        raise ApiError(401, "Unauthorized.")
    return grant, request.app[STATE].users[grant.user_id]


def require_scopes(grant: AccessToken, needed: Iterable[str]) -> None:
    """Spotify's 403 for a token that lacks one of `needed`."""
    if not set(needed) <= grant.scopes:
        raise ApiError(403, scopes.INSUFFICIENT)


def _int_param(query: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, f"Invalid {name}") from None
    if not low <= value <= high:
        raise ApiError(400, f"Invalid {name}")
    return value


def market_of(request: web.Request, grant: AccessToken) -> str | None:
    """The `market` parameter, with `from_token` meaning the user's country."""
    market = request.query.get("market")
    if market is None:
        return None
    if market == "from_token":
        if grant.user_id is None:
            raise ApiError(400, "Invalid market code")
        return request.app[STATE].users[grant.user_id].country
    if not _MARKET.match(market):
        raise ApiError(400, "Invalid market code")
    return market


def _playlist(request: web.Request) -> Playlist:
    playlist_id = request.match_info["id"]
    playlist = request.app[STATE].playlists.get(playlist_id)
    if playlist is None:
        raise ApiError(
            404 if is_base62_id(playlist_id) else 400,
            "Resource not found" if is_base62_id(playlist_id) else "Invalid base62 id",
        )
    return playlist


def _item(
    state: SpotifyState, api: str, entry: Entry, market: str | None, episodes: bool
) -> JSON | None:
    if entry.kind == "track":
        return track_json(api, state.tracks[entry.ref], market)
    if entry.kind == "episode":
        episode = state.episodes[entry.ref]
        if episodes:
            return episode_json(api, episode, market)
        return episode_as_track_json(api, episode, market)
    if entry.kind == "local" and entry.local is not None:
        return local_track_json(entry.local)
    return None


def wants_episodes(query: Mapping[str, str]) -> bool:
    """Whether `additional_types` names `episode` (QueryAdditionalTypes: `track` is the
    default, anything else a client must say it supports)."""
    types = {t.strip() for t in query.get("additional_types", "").split(",")}
    return "episode" in types


def fields_of(query: Mapping[str, str]) -> Selection | None:
    """The `fields` filter of the request, None without one; 400 if it does not parse."""
    raw = query.get("fields")
    if raw is None or raw == "":
        return None
    try:
        return parse_fields(raw)
    except FieldsError:
        raise ApiError(400, "Invalid fields parameter") from None


def items_page(
    request: web.Request, playlist: Playlist, market: str | None, offset: int, limit: int
) -> JSON:
    """A PagingPlaylistTrackObject of the playlist's entries."""
    state, api = request.app[STATE], api_base(request)
    episodes = wants_episodes(request.query)
    with state.lock:
        window = playlist.entries[offset : offset + limit]
        items = [entry_json(api, e, _item(state, api, e, market, episodes)) for e in window]
        total = len(playlist.entries)
    kept = {
        k: request.query[k] for k in ("market", "fields", "additional_types") if k in request.query
    }
    href = f"{api}playlists/{playlist.id}/items"
    return paging_json(href, kept, items, offset=offset, limit=limit, total=total)


async def get_me(request: web.Request) -> web.Response:
    grant, user = user_bearer(request)
    return web.json_response(private_user_json(api_base(request), user, grant.scopes))


async def get_playlist(request: web.Request) -> web.Response:
    """Playlist object; `items` only for the owner and collaborators (2026 rule) whose token
    may read the entries."""
    grant = bearer(request)
    playlist, market = _playlist(request), market_of(request, grant)
    selection = fields_of(request.query)
    state = request.app[STATE]
    readable = playlist.is_member(grant.user_id) and scopes.may_read_entries(playlist, grant.scopes)
    page = items_page(request, playlist, market, 0, MAX_PAGE) if readable else None
    owner = state.users[playlist.owner_id]
    body = playlist_json(api_base(request), playlist, owner, page)
    return web.json_response(apply_fields(body, selection))


async def get_playlist_items(request: web.Request) -> web.Response:
    grant = bearer(request)
    playlist = _playlist(request)
    if not playlist.is_member(grant.user_id):
        raise ApiError(403, "Forbidden")
    if not scopes.may_read_entries(playlist, grant.scopes):
        raise ApiError(403, scopes.INSUFFICIENT)
    limit = _int_param(request.query, "limit", 20, 1, MAX_PAGE)
    offset = _int_param(request.query, "offset", 0, 0, 10**9)
    market = market_of(request, grant)
    selection = fields_of(request.query)
    return web.json_response(
        apply_fields(items_page(request, playlist, market, offset, limit), selection)
    )


async def _json_body(request: web.Request) -> Any:
    raw = await request.text()
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except ValueError:
        raise ApiError(400, "Error parsing JSON.") from None


async def create_playlist(request: web.Request) -> web.Response:
    grant, user = user_bearer(request)
    body = await _json_body(request)
    if not isinstance(body, dict):
        raise ApiError(400, "Error parsing JSON.")
    name, public = body.get("name"), body.get("public", True)
    collaborative, description = body.get("collaborative", False), body.get("description")
    if not isinstance(name, str) or not name:
        raise ApiError(400, "Missing required field: name")
    if not isinstance(public, bool) or not isinstance(collaborative, bool):
        raise ApiError(400, "Invalid boolean")
    if description is not None and not isinstance(description, str):
        raise ApiError(400, "Invalid description")
    if collaborative and public:
        raise ApiError(400, "Collaborative playlists can't be public")
    require_scopes(grant, scopes.to_create(public, collaborative))
    state = request.app[STATE]
    playlist = state.add_playlist(
        user.id, name, public=public, collaborative=collaborative, description=description
    )
    page = items_page(request, playlist, None, 0, MAX_PAGE)
    return web.json_response(playlist_json(api_base(request), playlist, user, page), status=201)


def _uris_and_position(query: Mapping[str, str], body: Any) -> tuple[list[str], Any]:
    """URIs from the query (which wins) or the body: `{"uris", "position"}` or a bare array."""
    position: Any = query.get("position")
    if "uris" in query:
        return [u.strip() for u in query["uris"].split(",") if u.strip()], position
    if isinstance(body, list):
        return body, position
    if isinstance(body, dict):
        uris = body.get("uris")
        return (uris if isinstance(uris, list) else []), body.get("position", position)
    return [], position


async def add_items(request: web.Request) -> web.Response:
    grant, user = user_bearer(request)
    playlist = _playlist(request)
    if not playlist.is_member(user.id):
        raise ApiError(403, "You cannot add items to a playlist you don't own or collaborate on.")
    require_scopes(grant, [scopes.to_modify(playlist)])
    uris, position = _uris_and_position(request.query, await _json_body(request))
    if not uris:
        raise ApiError(400, "No uris provided")
    if len(uris) > MAX_ADD:
        raise ApiError(400, "You can add a maximum of 100 tracks per request.")
    for uri in uris:
        if not isinstance(uri, str) or not _ITEM_URI.match(uri):
            raise ApiError(400, f"Invalid track uri: {uri}")
    at = _position(position, len(playlist.entries))
    state = request.app[STATE]
    try:
        entries = state.resolve_uris(uris, user.id)
    except ValueError:
        raise ApiError(400, "Payload contains a non-existing ID") from None
    snapshot = state.insert_entries(playlist.id, entries, at)
    return web.json_response({"snapshot_id": snapshot}, status=201)


async def remove_items(request: web.Request) -> web.Response:
    """`DELETE /playlists/{id}/items`: `{"items": [{"uri"}...], "snapshot_id"?}`, at most
    100; every occurrence of each URI goes."""
    grant, user = user_bearer(request)
    playlist = _playlist(request)
    if not playlist.is_member(user.id):
        raise ApiError(
            403, "You cannot remove items from a playlist you don't own or collaborate on."
        )
    require_scopes(grant, [scopes.to_modify(playlist)])
    body = await _json_body(request)
    items = body.get("items") if isinstance(body, dict) else None
    if not isinstance(items, list) or not items:
        raise ApiError(400, "Missing required field: items")
    if len(items) > MAX_ADD:
        raise ApiError(400, "You can remove a maximum of 100 tracks per request.")
    uris: list[str] = []
    for item in items:
        uri = item.get("uri") if isinstance(item, dict) else None
        if not isinstance(uri, str) or not _ITEM_URI.match(uri):
            raise ApiError(400, f"Invalid track uri: {uri}")
        uris.append(uri)
    snapshot = body.get("snapshot_id")
    if snapshot is not None and not isinstance(snapshot, str):
        raise ApiError(400, "Invalid snapshot id")
    state = request.app[STATE]
    return web.json_response({"snapshot_id": state.remove_uris(playlist.id, uris)})


def _position(raw: Any, length: int) -> int | None:
    if raw is None:
        return None
    try:
        position = int(raw)
    except (TypeError, ValueError):
        raise ApiError(400, "Invalid position") from None
    if not 0 <= position <= length:
        raise ApiError(400, "Index out of bounds.")
    return position


async def get_my_playlists(request: web.Request) -> web.Response:
    """The user's playlists that the token's scopes may list (no 403: the others are left out)."""
    grant, user = user_bearer(request)
    limit = _int_param(request.query, "limit", 20, 1, MAX_PAGE)
    offset = _int_param(request.query, "offset", 0, 0, 100_000)
    state, api = request.app[STATE], api_base(request)
    with state.lock:
        mine = [p for p in state.library_of(user.id) if scopes.listed(p, grant.scopes)]
        items = [
            simplified_playlist_json(api, p, state.users[p.owner_id])
            for p in mine[offset : offset + limit]
        ]
    page = paging_json(f"{api}me/playlists", {}, items, offset=offset, limit=limit, total=len(mine))
    return web.json_response(page)


async def unfollow_playlist(request: web.Request) -> web.Response:
    """`DELETE /playlists/{id}/followers` (deprecated but served): the current user stops
    following; the owner doing so is what "deleting" a playlist means on Spotify."""
    grant, user = user_bearer(request)
    playlist = _playlist(request)
    require_scopes(grant, [scopes.to_modify(playlist)])
    request.app[STATE].unfollow_playlist(playlist.id, user.id)
    return web.Response(status=200)


async def search(request: web.Request) -> web.Response:
    """Track search over the catalogue; other requested types come back empty."""
    grant = bearer(request)
    query = request.query.get("q", request.query.get("query", ""))
    if not query.strip():
        raise ApiError(400, "No search query")
    types = [t for t in request.query.get("type", "").split(",") if t]
    if not types:
        raise ApiError(400, "Missing parameter type")
    for kind in types:
        if kind not in SEARCH_TYPES:
            raise ApiError(400, f"Bad search type field {kind}")
    limit = _int_param(request.query, "limit", 5, 1, MAX_SEARCH)
    offset = _int_param(request.query, "offset", 0, 0, 1000)
    market = market_of(request, grant)
    state, api = request.app[STATE], api_base(request)
    with state.lock:
        found: list[Track] = state.search_index.search(state.tracks, query, market)
    params = {"query": query, "type": ",".join(types)} | ({"market": market} if market else {})
    body: JSON = {}
    for kind in types:
        hits = found if kind == "track" else []
        items = [track_json(api, t, market) for t in hits[offset : offset + limit]]
        body[f"{kind}s"] = paging_json(
            f"{api}search", params, items, offset=offset, limit=limit, total=len(hits)
        )
    return web.json_response(body)


async def get_track(request: web.Request) -> web.Response:
    grant = bearer(request)
    track_id = request.match_info["id"]
    if not is_base62_id(track_id):
        raise ApiError(400, "Invalid base62 id")
    track = request.app[STATE].tracks.get(track_id)
    if track is None:
        raise ApiError(404, "Resource not found")
    return web.json_response(track_json(api_base(request), track, market_of(request, grant)))


def add_routes(app: web.Application) -> None:
    app.router.add_get("/v1/me", get_me)
    app.router.add_get("/v1/me/", get_me)  # spotipy's `me()` asks for `me/`
    app.router.add_get("/v1/me/playlists", get_my_playlists)
    app.router.add_post("/v1/me/playlists", create_playlist)
    app.router.add_get("/v1/playlists/{id}", get_playlist)
    app.router.add_get("/v1/playlists/{id}/items", get_playlist_items)
    app.router.add_post("/v1/playlists/{id}/items", add_items)
    app.router.add_delete("/v1/playlists/{id}/items", remove_items)
    app.router.add_delete("/v1/playlists/{id}/followers", unfollow_playlist)
    app.router.add_get("/v1/search", search)
    app.router.add_get("/v1/tracks/{id}", get_track)
