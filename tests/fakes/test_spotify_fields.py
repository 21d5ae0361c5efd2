"""The fake Spotify honours `fields=` and `additional_types` on playlist reads, as the Web
API spec describes them, so a client that asks for too little (or leans on a field it did
not ask for) fails against the fake as it would against Spotify."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
import spotipy

from fakes.spotify import FakeSpotify
from fakes.spotify_fields import FieldsError, apply_fields, parse_fields


@pytest.fixture
def fake() -> Iterator[FakeSpotify]:
    with FakeSpotify() as server:
        for user in ("ada", "bob"):
            server.add_user(user, f"{user.title()} Lovelace", country="SE")
        yield server


def client(fake: FakeSpotify, user: str) -> spotipy.Spotify:
    return fake.spotify_client(fake.issue_token(user).access_token)


# ---------------------------------------------------------------------- the filter itself

ENTRY: dict[str, Any] = {
    "added_at": "2024-01-01T00:00:00Z",
    "added_by": {"id": "ada", "type": "user"},
    "item": {"name": "Song", "uri": "spotify:track:x", "album": {"name": "A", "images": []}},
}


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ("total", {"total": 2}),
        ("total,limit", {"total": 2, "limit": 50}),
        ("items(added_by.id)", {"items": [{"added_by": {"id": "ada"}}] * 2}),
        ("items.added_by.id", {"items": [{"added_by": {"id": "ada"}}] * 2}),
        (
            "items(item(name,album(name))),total",
            {"items": [{"item": {"name": "Song", "album": {"name": "A"}}}] * 2, "total": 2},
        ),
        (
            "items(item(album(!images)))",
            {"items": [{"item": {"album": {"name": "A"}}}] * 2},
        ),
        ("items(!added_at,added_by)", {"items": [{"item": ENTRY["item"]}] * 2}),
        (
            "items(item.uri,item.name)",
            {"items": [{"item": {"uri": "spotify:track:x", "name": "Song"}}] * 2},
        ),
        ("items(item,item.uri)", {"items": [{"item": ENTRY["item"]}] * 2}),
        ("nothing_of_that_name", {}),
    ],
)
def test_fields_select_as_the_spec_describes(fields: str, expected: dict[str, Any]) -> None:
    page = {"items": [ENTRY, ENTRY], "total": 2, "limit": 50, "next": None}
    assert apply_fields(page, parse_fields(fields)) == expected


def test_a_null_stays_null_and_the_input_is_not_changed() -> None:
    page = {"items": [{"item": None, "added_at": "x"}], "total": 1}
    assert apply_fields(page, parse_fields("items(item(uri))")) == {"items": [{"item": None}]}
    assert page == {"items": [{"item": None, "added_at": "x"}], "total": 1}


@pytest.mark.parametrize("fields", ["items(", "items)", "a,,b", "a(b,!c)", "a.", "(a)", "a b"])
def test_malformed_fields_do_not_parse(fields: str) -> None:
    with pytest.raises(FieldsError):
        parse_fields(fields)


# ---------------------------------------------------------------------- over HTTP


def test_playlist_items_answer_only_the_fields_asked_for(fake: FakeSpotify) -> None:
    tracks = fake.generate_tracks(60, seed=2)
    playlist = fake.add_playlist("ada", "F", [t.uri for t in tracks])

    page = client(fake, "ada").playlist_items(
        playlist.id, limit=50, fields="items(track(uri,name)),next,total"
    )

    assert set(page) == {"items", "next", "total"}
    assert page["total"] == 60 and page["next"].endswith("offset=50&limit=50")
    assert page["items"] == [{"track": {"uri": t.uri, "name": t.name}} for t in tracks[:50]]


def test_playlist_answers_only_the_fields_asked_for(fake: FakeSpotify) -> None:
    tracks = fake.generate_tracks(3, seed=3)
    playlist = fake.add_playlist("ada", "Mine", [t.uri for t in tracks])
    fields = "id,name,owner(id,display_name),collaborative,items(total)"

    as_owner = client(fake, "ada").playlist(playlist.id, fields=fields)
    as_stranger = client(fake, "bob").playlist(playlist.id, fields=fields)

    assert as_owner == {
        "id": playlist.id,
        "name": "Mine",
        "owner": {"id": "ada", "display_name": "Ada Lovelace"},
        "collaborative": False,
        "items": {"total": 3},
    }
    # Only members get the entries (the fake's 2026 rule), so a stranger's answer has none.
    assert as_stranger == {k: v for k, v in as_owner.items() if k != "items"}

    dotted = client(fake, "ada").playlist(playlist.id, fields="tracks.items(track(name))")
    assert dotted == {"tracks": {"items": [{"track": {"name": t.name}} for t in tracks]}}


def test_malformed_fields_are_a_400_in_spotifys_error_object(fake: FakeSpotify) -> None:
    playlist = fake.add_playlist("ada", "F", [t.uri for t in fake.generate_tracks(1, seed=4)])
    token = fake.issue_token("ada").access_token
    for path in (f"playlists/{playlist.id}", f"playlists/{playlist.id}/items"):
        answer = requests.get(
            f"{fake.api_base}{path}",
            params={"fields": "items(track(uri)"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        assert answer.status_code == 400
        assert answer.json() == {"error": {"status": 400, "message": "Invalid fields parameter"}}


def test_episodes_come_as_episode_objects_only_to_clients_that_ask(fake: FakeSpotify) -> None:
    song = fake.add_track("Song", "Ada Band")
    episode = fake.add_episode("Episode One", "The Show")
    playlist = fake.add_playlist("ada", "Mixed", [song, episode])
    sp = client(fake, "ada")

    asked = sp.playlist_items(playlist.id, additional_types=("track", "episode"))["items"][1]
    default = sp.playlist_items(playlist.id, additional_types=("track",))["items"][1]
    from_token = sp.playlist_items(playlist.id, market="SE", additional_types=())["items"][1]
    whole = sp.playlist(playlist.id)["items"]["items"][1]  # spotipy's default: ("track",)

    assert asked["item"]["type"] == "episode" and asked["item"]["show"]["name"] == "The Show"
    assert "episode" not in asked["item"] and "album" not in asked["item"]
    legacy = default["item"]
    assert legacy == default["track"] == whole["item"]
    assert (legacy["type"], legacy["episode"], legacy["track"]) == ("episode", True, False)
    assert legacy["uri"] == episode.uri and legacy["id"] == episode.id
    assert legacy["name"] == "Episode One" and "show" not in legacy
    assert legacy["album"]["name"] == "The Show" and legacy["album"]["album_type"] == "show"
    assert (legacy["disc_number"], legacy["track_number"], legacy["popularity"]) == (0, 0, 0)
    assert (
        from_token["item"]["is_playable"] is True and "available_markets" not in from_token["item"]
    )
    # Songs are the same either way.
    first = [
        sp.playlist_items(playlist.id, additional_types=t)["items"][0]
        for t in [(), ("track", "episode")]
    ]
    assert first[0] == first[1]
