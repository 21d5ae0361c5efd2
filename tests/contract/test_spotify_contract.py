"""Every kind of JSON the fake Spotify sends, checked against Spotify's own OpenAPI spec.

Each case makes a real HTTP call to the fake and validates the body against the schema
the spec documents for that operation and status (falling back to the spec's shared error
responses where an operation lists none), then also looks for keys the spec does not
declare. The second half feeds deliberately broken shapes to the same checks to show they
can fail. The specs are the copies vendored in `specs/`; a missing one fails.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from jsonschema.exceptions import ValidationError, best_match

from fakes.spotify import EntrySpec, FakeSpotify, FaultKind, LocalFile, Removed
from tests.contract.openapi import (
    OpenAPISpec,
    Schema,
    load_vendor_spec,
    response_schema,
    undocumented_fields,
    validate,
    validation_errors,
)

SPEC_FILE = "spotify-openapi.yml"
SHARED_ERRORS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    429: "TooManyRequests",
}
ITEMS_PATH = "/playlists/{playlist_id}/items"
# What a client that handles episodes sends; without it an episode comes track-shaped.
EPISODES = {"additional_types": "track,episode"}


@pytest.fixture(scope="module")
def spec() -> OpenAPISpec:
    return load_vendor_spec(SPEC_FILE)


@dataclass
class World:
    """A running fake with a catalogue and playlists covering every entry kind."""

    fake: FakeSpotify
    playlist: str  # owned by ada: tracks, an unavailable track, an episode, a local file
    token: str  # ada, all default scopes
    stranger: str  # bob

    def get(self, path: str, token: str | None = None, **params: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {token or self.token}"}
        return requests.get(self.fake.api_base + path, params=params, headers=headers, timeout=5)

    def post(self, path: str, body: Any, token: str | None = None) -> requests.Response:
        headers = {"Authorization": f"Bearer {token or self.token}"}
        return requests.post(self.fake.api_base + path, json=body, headers=headers, timeout=5)

    def delete(self, path: str, body: Any, token: str | None = None) -> requests.Response:
        headers = {"Authorization": f"Bearer {token or self.token}"}
        return requests.delete(self.fake.api_base + path, json=body, headers=headers, timeout=5)


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    with FakeSpotify() as fake:
        fake.add_user("ada", "Ada")
        fake.add_user("bob", "Bob")
        tracks = fake.generate_tracks(60, seed=5)
        gone = fake.add_track("Withdrawn", "Nobody", available_markets=[])
        episode = fake.add_episode("Pilot", "Podcast")
        items: list[EntrySpec] = [*(t.uri for t in tracks), gone, episode, LocalFile("T", "A")]
        playlist = fake.add_playlist("ada", "Everything", items, description=None)
        yield World(
            fake,
            playlist.id,
            fake.issue_token("ada").access_token,
            fake.issue_token("bob").access_token,
        )


def documented_schema(spec: OpenAPISpec, path: str, method: str, status: int) -> Schema:
    """What the operation documents for `status`, else the spec's shared error response.

    The spec documents no 5xx bodies; Spotify sends its usual error object, so 5xx
    answers are held to the `{"error": ErrorObject}` shape every error response shares.
    """
    try:
        return response_schema(spec, path, method, status)
    except KeyError:
        if status in SHARED_ERRORS:
            return spec.ref(
                f"#/components/responses/{SHARED_ERRORS[status]}/content/application~1json/schema"
            )
        return {
            "type": "object",
            "required": ["error"],
            "properties": {"error": spec.ref("ErrorObject")},
        }


Send = Callable[[World], requests.Response]


def _expired(w: World) -> requests.Response:
    grant = w.fake.issue_token("ada")
    w.fake.expire_token(grant.access_token)
    return w.get("me", grant.access_token)


def _injected(kind: FaultKind, status: int = 503) -> Send:
    def send(w: World) -> requests.Response:
        w.fake.inject("GET /v1/playlists/{id}/items", kind, status=status, retry_after=2)
        return w.get(f"playlists/{w.playlist}/items")

    return send


def _rate_limited(w: World) -> requests.Response:
    w.fake.set_rate_limit(1, 30.0)
    try:
        w.get("me")
        return w.get("me")
    finally:
        w.fake.set_rate_limit(None)


def _narrow_scopes(w: World) -> requests.Response:
    return w.get("me", w.fake.issue_token("ada", scopes=["playlist-read-private"]).access_token)


def _app_token(w: World) -> str:
    return w.fake.issue_app_token()


def _scoped(w: World, *scopes: str) -> str:
    return w.fake.issue_token("ada", scopes).access_token


def _private_playlist(w: World) -> str:
    return w.fake.add_playlist("ada", "Diary", public=False).id


# (case id, spec path, method, expected status, how to provoke it)
CASES: list[tuple[str, str, str, int, Send]] = [
    ("me", "/me", "get", 200, lambda w: w.get("me")),
    ("me-without-private-scopes", "/me", "get", 200, _narrow_scopes),
    (
        "playlist-owner-market",
        "/playlists/{playlist_id}",
        "get",
        200,
        lambda w: w.get(f"playlists/{w.playlist}", market="SE"),
    ),
    (
        "playlist-owner",
        "/playlists/{playlist_id}",
        "get",
        200,
        lambda w: w.get(f"playlists/{w.playlist}"),
    ),
    (
        "playlist-stranger",
        "/playlists/{playlist_id}",
        "get",
        200,
        lambda w: w.get(f"playlists/{w.playlist}", w.stranger),
    ),
    (
        "playlist-app-token",
        "/playlists/{playlist_id}",
        "get",
        200,
        lambda w: w.get(f"playlists/{w.playlist}", _app_token(w)),
    ),
    (
        "items-market",
        ITEMS_PATH,
        "get",
        200,
        lambda w: w.get(f"playlists/{w.playlist}/items", market="SE", limit=50),
    ),
    (
        "items-last-page",
        ITEMS_PATH,
        "get",
        200,
        lambda w: w.get(f"playlists/{w.playlist}/items", offset=50, limit=50, **EPISODES),
    ),
    (
        "items-from-token-market",
        ITEMS_PATH,
        "get",
        200,
        lambda w: w.get(
            f"playlists/{w.playlist}/items", market="from_token", offset=55, **EPISODES
        ),
    ),
    (
        "create-playlist",
        "/me/playlists",
        "post",
        201,
        lambda w: w.post("me/playlists", {"name": "New"}),
    ),
    (
        "create-collaborative",
        "/me/playlists",
        "post",
        201,
        lambda w: w.post(
            "me/playlists",
            {"name": "C", "public": False, "collaborative": True, "description": "d"},
        ),
    ),
    (
        "add-items",
        ITEMS_PATH,
        "post",
        201,
        lambda w: w.post(
            f"playlists/{w.playlist}/items", {"uris": [next(iter(w.fake.tracks.values())).uri]}
        ),
    ),
    (
        "search-tracks",
        "/search",
        "get",
        200,
        lambda w: w.get("search", q="the", type="track", limit=10),
    ),
    (
        "search-isrc-market",
        "/search",
        "get",
        200,
        lambda w: w.get(
            "search", q=f"isrc:{next(iter(w.fake.tracks.values())).isrc}", type="track", market="SE"
        ),
    ),
    (
        "search-every-type",
        "/search",
        "get",
        200,
        lambda w: w.get("search", q="a", type="album,artist,playlist,track,show,episode,audiobook"),
    ),
    (
        "track",
        "/tracks/{id}",
        "get",
        200,
        lambda w: w.get(f"tracks/{next(iter(w.fake.tracks.values())).id}"),
    ),
    (
        "track-unplayable",
        "/tracks/{id}",
        "get",
        200,
        lambda w: w.get(
            f"tracks/{w.fake.add_track('Gone Again', 'X', available_markets=[]).id}", market="SE"
        ),
    ),
    ("my-playlists", "/me/playlists", "get", 200, lambda w: w.get("me/playlists", limit=50)),
    (
        "my-playlists-public-only",
        "/me/playlists",
        "get",
        200,
        lambda w: w.get("me/playlists", _scoped(w, "playlist-modify-private")),
    ),
    (
        "private-playlist-without-read-scope",
        "/playlists/{playlist_id}",
        "get",
        200,
        lambda w: w.get(f"playlists/{_private_playlist(w)}", _scoped(w)),
    ),
    (
        "private-items-without-read-scope",
        ITEMS_PATH,
        "get",
        403,
        lambda w: w.get(f"playlists/{_private_playlist(w)}/items", _scoped(w)),
    ),
    (
        "add-without-modify-scope",
        ITEMS_PATH,
        "post",
        403,
        lambda w: w.post(
            f"playlists/{w.playlist}/items",
            {"uris": [next(iter(w.fake.tracks.values())).uri]},
            _scoped(w, "playlist-modify-private"),
        ),
    ),
    (
        "create-without-modify-scope",
        "/me/playlists",
        "post",
        403,
        lambda w: w.post("me/playlists", {"name": "N"}, _scoped(w, "playlist-read-private")),
    ),
    ("expired-token", "/me", "get", 401, _expired),
    ("no-token", "/me", "get", 401, lambda w: requests.get(w.fake.api_base + "me", timeout=5)),
    ("app-token-on-me", "/me", "get", 401, lambda w: w.get("me", _app_token(w))),
    (
        "stranger-items",
        ITEMS_PATH,
        "get",
        403,
        lambda w: w.get(f"playlists/{w.playlist}/items", w.stranger),
    ),
    (
        "stranger-add",
        ITEMS_PATH,
        "post",
        403,
        lambda w: w.post(f"playlists/{w.playlist}/items", {"uris": []}, w.stranger),
    ),
    (
        "remove-absent",  # a URI the playlist does not hold: nothing changes but the answer
        ITEMS_PATH,
        "delete",
        200,
        lambda w: w.delete(
            f"playlists/{w.playlist}/items", {"items": [{"uri": f"spotify:track:{'3' * 22}"}]}
        ),
    ),
    (
        "stranger-remove",
        ITEMS_PATH,
        "delete",
        403,
        lambda w: w.delete(
            f"playlists/{w.playlist}/items",
            {"items": [{"uri": f"spotify:track:{'3' * 22}"}]},
            w.stranger,
        ),
    ),
    (
        "unknown-playlist",
        "/playlists/{playlist_id}",
        "get",
        404,
        lambda w: w.get(f"playlists/{'1' * 22}"),
    ),
    ("unknown-route", "/me", "get", 404, lambda w: w.get("nowhere")),
    (
        "add-101",
        ITEMS_PATH,
        "post",
        400,
        lambda w: w.post(
            f"playlists/{w.playlist}/items", {"uris": [f"spotify:track:{'2' * 22}"] * 101}
        ),
    ),
    (
        "search-limit-11",
        "/search",
        "get",
        400,
        lambda w: w.get("search", q="a", type="track", limit=11),
    ),
    (
        "items-limit-51",
        ITEMS_PATH,
        "get",
        400,
        lambda w: w.get(f"playlists/{w.playlist}/items", limit=51),
    ),
    ("injected-429", ITEMS_PATH, "get", 429, _injected("429")),
    ("rate-limit-429", "/me", "get", 429, _rate_limited),
    ("injected-500", ITEMS_PATH, "get", 500, _injected("5xx", 500)),
    ("injected-502", ITEMS_PATH, "get", 502, _injected("5xx", 502)),
    ("injected-503", ITEMS_PATH, "get", 503, _injected("5xx", 503)),
]


@pytest.mark.parametrize(
    ("path", "method", "status", "send"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_fake_response_matches_the_spec(
    spec: OpenAPISpec, world: World, path: str, method: str, status: int, send: Send
) -> None:
    response = send(world)
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].split(";")[0] == "application/json"
    body = response.json()
    schema = documented_schema(spec, path, method, status)
    validate(spec, schema, body)
    assert undocumented_fields(spec, schema, body) == []
    if status == 429:
        assert int(response.headers["Retry-After"]) >= 1


def test_owner_pages_cover_every_entry_kind(spec: OpenAPISpec, world: World) -> None:
    """The validated pages really hold the odd entries (otherwise the cases prove little)."""
    entries = world.get(
        f"playlists/{world.playlist}/items", offset=55, market="SE", **EPISODES
    ).json()["items"]
    kinds = [(e["is_local"], e["item"]["type"], e["item"].get("is_playable")) for e in entries[:8]]
    assert (False, "track", False) in kinds and (False, "episode", True) in kinds
    assert (True, "track", None) in kinds


# ----------------------------------------------------------------------- the checks can fail


@pytest.fixture(scope="module")
def page(world: World) -> dict[str, Any]:
    body: dict[str, Any] = world.get(
        f"playlists/{world.playlist}/items", offset=58, market="SE", **EPISODES
    ).json()
    return body


def test_an_episode_not_asked_for_comes_track_shaped_and_only_its_album_type_departs(
    spec: OpenAPISpec, world: World
) -> None:
    """Without `episode` in additional_types, Spotify's legacy form (spotify/web-api#1511):
    TrackObject fields for the episode, the show as its album; the spec's TrackObject only
    lacks an `album_type` of "show" (the traffic check tolerates exactly that)."""
    body = world.get(f"playlists/{world.playlist}/items", offset=58, market="SE").json()
    [episode] = [e for e in body["items"] if e["item"] and e["item"]["type"] == "episode"]
    assert (episode["item"]["episode"], episode["item"]["album"]["name"]) == (True, "Podcast")
    found = [best_match([e]) or e for e in validation_errors(spec, items_schema(spec), body)]
    assert {(e.json_path, e.message) for e in found} == {
        (f"$.items[{body['items'].index(episode)}].{key}.album.album_type",
         "'show' is not one of ['album', 'single', 'compilation']")
        for key in ("item", "track")
    }  # fmt: skip


def items_schema(spec: OpenAPISpec) -> Schema:
    return response_schema(spec, ITEMS_PATH, "get", 200)


def test_contract_rejects_an_entry_with_a_wrongly_typed_track(
    spec: OpenAPISpec, page: dict[str, Any]
) -> None:
    validate(spec, items_schema(spec), page)  # control: the genuine page passes
    broken = copy.deepcopy(page)
    broken["items"][0]["track"]["duration_ms"] = "3:20"
    with pytest.raises(ValidationError) as raised:
        validate(spec, items_schema(spec), broken)
    assert list(raised.value.absolute_path)[:3] == ["items", 0, "track"]


def test_contract_rejects_missing_required_fields(spec: OpenAPISpec, page: dict[str, Any]) -> None:
    no_next = {k: v for k, v in page.items() if k != "next"}
    episode = next(e for e in page["items"] if e["item"] and e["item"]["type"] == "episode")
    showless = {k: v for k, v in episode["item"].items() if k != "show"}
    with pytest.raises(ValidationError, match="'next' is a required property"):
        validate(spec, items_schema(spec), no_next)
    with pytest.raises(ValidationError, match="'show' is a required property"):
        validate(spec, "EpisodeObject", showless)


def test_contract_knows_which_fields_may_be_null(spec: OpenAPISpec, world: World) -> None:
    playlist = world.get(f"playlists/{world.playlist}").json()
    assert playlist["description"] is None  # nullable: true in the spec, accepted
    validate(spec, "PlaylistObject", playlist)
    with pytest.raises(ValidationError, match="None is not of type 'boolean'"):
        validate(spec, "PlaylistObject", playlist | {"public": None})
    with pytest.raises(ValidationError):
        validate(spec, "ErrorObject", {"status": 200, "message": "not an error status"})


def test_undocumented_fields_are_reported(spec: OpenAPISpec, page: dict[str, Any]) -> None:
    misspelt = copy.deepcopy(page)
    misspelt["items"][0]["itme"] = misspelt["items"][0]["item"]
    misspelt["items"][1]["item"]["is_playble"] = True
    validate(spec, items_schema(spec), misspelt)  # plain validation cannot see these
    assert undocumented_fields(spec, items_schema(spec), misspelt) == [
        "$.items[0].itme",
        "$.items[1].item.is_playble",
    ]


def test_removed_entries_are_outside_the_spec(spec: OpenAPISpec, world: World) -> None:
    """Spotify answers `item`/`track` null for songs it no longer serves; the spec says no.

    The fake sends such entries only when a test adds `Removed()`, so clients can be tested
    against reality; this pins that gap (it fails once the spec makes them nullable).
    """
    playlist = world.fake.add_playlist("ada", "Holes", [Removed()])
    body = world.get(f"playlists/{playlist.id}/items").json()
    errors = validation_errors(spec, items_schema(spec), body)
    assert sorted(".".join(map(str, e.absolute_path)) for e in errors) == [
        "items.0.item",
        "items.0.track",
    ]


def test_spec_does_not_describe_the_accounts_service(spec: OpenAPISpec) -> None:
    """Token answers have no schema here, so the fake's tests check them field by field."""
    assert not any(p.startswith(("/api/token", "/authorize")) for p in spec.document["paths"])


def test_helper_reads_openapi_31_too() -> None:
    """The same helper serves the Discord spec (3.1: `type: [..., "null"]`, `$ref` siblings)."""
    discord = load_vendor_spec("discord-openapi.json")
    limited = {
        "code": 0,
        "message": "You are being rate limited.",
        "retry_after": 1.5,
        "global": False,
    }
    validate(discord, "RatelimitedResponse", limited)
    with pytest.raises(ValidationError, match="'retry_after' is a required property"):
        validate(
            discord, "RatelimitedResponse", {k: v for k, v in limited.items() if k != "retry_after"}
        )
    user = {
        "id": "80351110224678912",
        "username": "nelly",
        "avatar": None,
        "discriminator": "0",
        "public_flags": 0,
        "flags": 0,
        "global_name": None,
        "primary_guild": None,
    }
    assert validation_errors(discord, "UserResponse", user) == []
    with pytest.raises(ValidationError, match="does not match"):
        validate(discord, "UserResponse", user | {"id": "not-a-snowflake"})
    assert undocumented_fields(discord, "RatelimitedResponse", limited | {"extra": 1}) == [
        "$.extra"
    ]
