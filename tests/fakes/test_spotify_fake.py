"""The fake Spotify, driven by the real spotipy client, judged by what the fake recorded.

These pin the fake's behaviour (so code tested against it meets Spotify's rules) and also
document how spotipy itself reacts to 429s, 5xx answers and dropped connections.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import spotipy
from spotipy.exceptions import SpotifyOauthError

from fakes.spotify import DEFAULT_SCOPES, EntrySpec, FakeSpotify, LocalFile, Removed
from fakes.spotify_grants import pkce_challenge
from music.spotify import remove_items

ITEMS = "GET /v1/playlists/{id}/items"
ADD = "POST /v1/playlists/{id}/items"
ME = "GET /v1/me"
TOKEN = "POST /api/token"


@pytest.fixture
def fake() -> Iterator[FakeSpotify]:
    with FakeSpotify() as server:
        for user in ("ada", "bob", "cy"):
            server.add_user(user, f"{user.title()} Lovelace", country="SE")
        yield server


def client(fake: FakeSpotify, user: str, **options: Any) -> spotipy.Spotify:
    return fake.spotify_client(fake.issue_token(user).access_token, **options)


def plain_session_client(fake: FakeSpotify, user: str, **options: Any) -> spotipy.Spotify:
    """spotipy without its urllib3 Retry adapter: error statuses and headers reach the caller."""
    return client(fake, user, requests_session=requests.Session(), **options)


def bearer(fake: FakeSpotify, user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {fake.issue_token(user).access_token}"}


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


# ------------------------------------------------------------------------- reading playlists


def test_pages_through_1250_items_with_spotipy_next(fake: FakeSpotify) -> None:
    tracks = fake.generate_tracks(1250, seed=11)
    playlist = fake.add_playlist("ada", "Big", [t.uri for t in tracks])
    sp = client(fake, "ada")

    page = sp.playlist_items(playlist.id)
    first = page
    uris: list[str] = []
    while page:
        uris += [entry["item"]["uri"] for entry in page["items"]]
        page = sp.next(page)

    assert uris == fake.playlist_uris(playlist.id) == [t.uri for t in tracks]
    assert first["total"] == 1250 and first["limit"] == 50 and first["previous"] is None
    assert first["next"].startswith(f"{fake.api_base}playlists/{playlist.id}/items?")
    offsets = [int(c.query["offset"]) for c in fake.calls if c.route == ITEMS]
    assert offsets == list(range(0, 1250, 50))
    assert fake.count(ITEMS, user="ada") == 25 and fake.count(ITEMS, user="bob") == 0


def test_items_paging_limits_follow_the_spec(fake: FakeSpotify) -> None:
    tracks = fake.generate_tracks(30, seed=1)
    playlist = fake.add_playlist("ada", "Small", [t.uri for t in tracks])
    url, headers = f"{fake.api_base}playlists/{playlist.id}/items", bearer(fake, "ada")

    default = requests.get(url, headers=headers, timeout=5).json()
    last = requests.get(url, params={"offset": 20, "limit": 20}, headers=headers, timeout=5).json()
    too_big = requests.get(url, params={"limit": 51}, headers=headers, timeout=5)
    too_small = requests.get(url, params={"limit": 0}, headers=headers, timeout=5)

    assert (default["limit"], len(default["items"])) == (20, 20)
    assert query_of(default["next"]) == {"offset": "20", "limit": "20"}
    assert last["next"] is None and query_of(last["previous"]) == {"offset": "0", "limit": "20"}
    assert [e["item"]["id"] for e in last["items"]] == [t.id for t in tracks[20:]]
    for refused in (too_big, too_small):
        assert refused.status_code == 400
        assert refused.json() == {"error": {"status": 400, "message": "Invalid limit"}}


def test_only_owner_and_collaborators_read_items(fake: FakeSpotify) -> None:
    tracks = fake.generate_tracks(5, seed=2)
    playlist = fake.add_playlist("ada", "Mine", [t.uri for t in tracks])
    stranger, owner = client(fake, "bob"), client(fake, "ada")

    assert "items" in owner.playlist(playlist.id) and "tracks" in owner.playlist(playlist.id)
    seen_by_stranger = stranger.playlist(playlist.id)
    assert seen_by_stranger["name"] == "Mine" and "items" not in seen_by_stranger
    with pytest.raises(spotipy.SpotifyException) as read:
        stranger.playlist_items(playlist.id)
    with pytest.raises(spotipy.SpotifyException) as write:
        stranger.playlist_add_items(playlist.id, [tracks[0].uri])
    assert read.value.http_status == 403 and write.value.http_status == 403
    assert fake.count(ITEMS, user="bob", status=403) == 1
    assert fake.count(ADD, user="bob", status=403) == 1
    assert fake.playlist_uris(playlist.id) == [t.uri for t in tracks]

    fake.add_collaborator(playlist.id, "bob")
    stranger.playlist_add_items(playlist.id, [tracks[0].uri])
    entries = stranger.playlist_items(playlist.id)["items"]
    assert entries[-1]["added_by"]["id"] == "bob" and len(entries) == 6


def test_unknown_playlist_is_404_with_spotify_error_object(fake: FakeSpotify) -> None:
    response = requests.get(
        f"{fake.api_base}playlists/{'0' * 22}", headers=bearer(fake, "ada"), timeout=5
    )
    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json() == {"error": {"status": 404, "message": "Resource not found"}}


def test_local_files_episodes_and_unavailable_tracks_are_represented(fake: FakeSpotify) -> None:
    playable = fake.add_track("Here", "Ada Band")
    gone = fake.add_track("Elsewhere", "Ada Band", available_markets=["JP"])
    episode = fake.add_episode("Episode One", "The Show")
    local = LocalFile("Demo Tape", "Ada", "Basement", 95_000)
    items: list[EntrySpec] = [playable, gone, episode, local, Removed()]
    playlist = fake.add_playlist("ada", "Mixed", items)
    sp = client(fake, "ada")

    with_market = sp.playlist_items(playlist.id, market="SE")["items"]
    without = sp.playlist_items(playlist.id)["items"]

    here, elsewhere, ep, file, removed = with_market
    assert here["item"]["is_playable"] is True and "restrictions" not in here["item"]
    assert elsewhere["item"]["is_playable"] is False
    assert elsewhere["item"]["restrictions"] == {"reason": "market"}
    assert ep["item"]["type"] == "episode" and ep["item"]["show"]["name"] == "The Show"
    assert file["is_local"] is True and file["item"]["uri"] == local.uri
    assert file["item"]["name"] == "Demo Tape" and "id" not in file["item"]
    assert removed["item"] is None and removed["track"] is None
    assert (
        without[1]["item"]["available_markets"] == ["JP"]
        and "is_playable" not in without[1]["item"]
    )
    assert all(e["track"] == e["item"] for e in with_market)
    assert fake.playlist_uris(playlist.id) == [playable.uri, gone.uri, episode.uri, local.uri, None]


def test_fields_and_additional_types_do_not_break_reads(fake: FakeSpotify) -> None:
    tracks = fake.generate_tracks(3, seed=5)
    playlist = fake.add_playlist("ada", "F", [t.uri for t in tracks])
    page = client(fake, "ada").playlist_items(
        playlist.id, fields="items(item(uri)),next", additional_types=("track",)
    )
    assert [e["item"]["uri"] for e in page["items"]] == [t.uri for t in tracks]
    assert fake.calls[-1].query["fields"] == "items(item(uri)),next"


# ------------------------------------------------------------------------- writing playlists


def test_create_playlist_then_add_100_and_refuse_101(fake: FakeSpotify) -> None:
    tracks = fake.generate_tracks(101, seed=3)
    sp = client(fake, "ada")

    created = sp.current_user_playlist_create("Import", public=False, description="from Discord")
    added = sp.playlist_add_items(created["id"], [t.uri for t in tracks[:100]])
    with pytest.raises(spotipy.SpotifyException) as refused:
        sp.playlist_add_items(created["id"], [t.uri for t in tracks])

    stored = fake.playlist(created["id"])
    assert (stored.owner_id, stored.name, stored.public, stored.description) == (
        "ada",
        "Import",
        False,
        "from Discord",
    )
    assert created["owner"]["id"] == "ada" and created["items"]["total"] == 0
    assert added["snapshot_id"] == stored.snapshot_id != created["snapshot_id"]
    assert refused.value.http_status == 400
    assert fake.playlist_uris(created["id"]) == [t.uri for t in tracks[:100]]
    assert fake.count("POST /v1/me/playlists", user="ada", status=201) == 1
    assert [c.status for c in fake.calls if c.route == ADD] == [201, 400]


def test_position_insert_and_every_change_gets_a_new_snapshot(fake: FakeSpotify) -> None:
    a, b, c, d, e = fake.generate_tracks(5, seed=4)
    playlist = fake.add_playlist("ada", "Order", [a.uri, b.uri])
    sp, url = client(fake, "ada"), f"{fake.api_base}playlists/{playlist.id}/items"
    snapshots = [playlist.snapshot_id]

    snapshots.append(sp.playlist_add_items(playlist.id, [c.uri], position=0)["snapshot_id"])
    body = requests.post(
        url, json={"uris": [d.uri], "position": 2}, headers=bearer(fake, "ada"), timeout=5
    )
    by_query = requests.post(
        url, params={"uris": e.uri, "position": "1"}, headers=bearer(fake, "ada"), timeout=5
    )
    snapshots += [body.json()["snapshot_id"], by_query.json()["snapshot_id"]]
    beyond = requests.post(
        url, json={"uris": [a.uri], "position": 9}, headers=bearer(fake, "ada"), timeout=5
    )

    assert (body.status_code, by_query.status_code, beyond.status_code) == (201, 201, 400)
    assert fake.playlist_uris(playlist.id) == [c.uri, e.uri, a.uri, d.uri, b.uri]
    assert len(set(snapshots)) == 4 and snapshots[-1] == fake.playlist(playlist.id).snapshot_id


def test_adding_malformed_or_unknown_uris_is_refused(fake: FakeSpotify) -> None:
    playlist = fake.add_playlist("ada", "Strict")
    url, headers = f"{fake.api_base}playlists/{playlist.id}/items", bearer(fake, "ada")
    for uris in (
        ["spotify:track:short"],
        [f"spotify:track:{'A' * 22}"],
        [],
        ["spotify:local:a:b:c:1"],
    ):
        response = requests.post(url, json={"uris": uris}, headers=headers, timeout=5)
        assert response.status_code == 400, uris
        assert response.json()["error"]["status"] == 400
    assert fake.playlist_uris(playlist.id) == []


def test_removing_takes_every_occurrence_of_a_uri_and_only_from_a_members_playlist(
    fake: FakeSpotify,
) -> None:
    a, b, c = fake.generate_tracks(3, seed=33)
    playlist = fake.add_playlist("ada", "Trim", [a.uri, b.uri, a.uri, c.uri])
    sp, url = client(fake, "ada"), f"{fake.api_base}playlists/{playlist.id}/items"
    before = playlist.snapshot_id

    removed = remove_items(sp, playlist.id, [a.uri, f"spotify:track:{'Z' * 22}"])
    assert fake.playlist_uris(playlist.id) == [b.uri, c.uri]  # both a's; the unknown: no-op
    assert removed["snapshot_id"] == fake.playlist(playlist.id).snapshot_id != before
    too_many = {"items": [{"uri": b.uri}] * 101}
    for body in ({}, {"items": []}, {"items": [{"uri": "spotify:track:short"}]}, too_many):
        refused = requests.delete(url, json=body, headers=bearer(fake, "ada"), timeout=5)
        assert refused.status_code == 400, body
    foreign = requests.delete(
        url, json={"items": [{"uri": b.uri}]}, headers=bearer(fake, "bob"), timeout=5
    )
    assert foreign.status_code == 403
    assert fake.playlist_uris(playlist.id) == [b.uri, c.uri]


def test_concurrent_adds_from_several_threads_are_all_applied(fake: FakeSpotify) -> None:
    tracks = fake.generate_tracks(80, seed=6)
    playlist = fake.add_playlist("ada", "Party", collaborators=["bob", "cy"])
    users = ["ada", "bob", "cy", "ada", "bob", "cy", "ada", "bob"]

    def add_ten(index: int) -> list[str]:
        sp = client(fake, users[index])
        chunk = tracks[index * 10 : (index + 1) * 10]
        return [sp.playlist_add_items(playlist.id, [t.uri])["snapshot_id"] for t in chunk]

    with ThreadPoolExecutor(max_workers=8) as pool:
        snapshots = [s for batch in pool.map(add_ten, range(8)) for s in batch]

    assert sorted(fake.playlist_uris(playlist.id), key=str) == sorted(
        (t.uri for t in tracks), key=str
    )
    assert len(set(snapshots)) == 80
    assert {u: fake.count(ADD, user=u) for u in ("ada", "bob", "cy")} == {
        "ada": 30,
        "bob": 30,
        "cy": 20,
    }


# ------------------------------------------------------------------------- search & tracks


def test_search_by_isrc_filters_and_limits(fake: FakeSpotify) -> None:
    tracks = fake.generate_tracks(200, seed=8)
    target = tracks[123]
    sp = client(fake, "ada")

    by_isrc = sp.search(f"isrc:{target.isrc}", type="track")["tracks"]
    by_fields = sp.search(f'track:"{target.name}" artist:"{target.artists[0].name}"')["tracks"]
    default = requests.get(
        f"{fake.api_base}search",
        params={"q": "the", "type": "track"},
        headers=bearer(fake, "ada"),
        timeout=5,
    ).json()
    with pytest.raises(spotipy.SpotifyException) as too_many:
        sp.search("the", limit=11)

    assert [t["id"] for t in by_isrc["items"]] == [target.id] and by_isrc["total"] == 1
    assert by_isrc["items"][0]["external_ids"]["isrc"] == target.isrc
    assert target.id in [t["id"] for t in by_fields["items"]]
    assert default["tracks"]["limit"] == 5 and len(default["tracks"]["items"]) == 5
    assert query_of(default["tracks"]["next"])["query"] == "the"
    assert too_many.value.http_status == 400
    assert fake.count("GET /v1/search", user="ada", status=200) == 3


def test_search_with_market_hides_unplayable_and_answers_other_types_empty(
    fake: FakeSpotify,
) -> None:
    fake.add_track("Northern Lights", "Aurora Quartet", available_markets=["JP"])
    visible = fake.add_track("Northern Lights", "Borealis", available_markets=["SE"])
    sp = client(fake, "ada")

    result = sp.search("northern lights", type="track,artist", market="SE")

    assert [t["id"] for t in result["tracks"]["items"]] == [visible.id]
    assert sp.search("north bore year:2020")["tracks"]["total"] == 1  # word prefixes
    assert sp.search("northern year:1990-1999")["tracks"]["total"] == 0
    assert result["artists"]["items"] == [] and result["artists"]["total"] == 0
    assert sp.track(visible.id)["name"] == "Northern Lights"


# ------------------------------------------------------------------------- accounts


def test_authorization_code_flow_with_spotipy(fake: FakeSpotify) -> None:
    oauth = fake.oauth(state="s-42")
    redirect = fake.consent(oauth.get_authorize_url(), "bob")
    state, code = oauth.parse_auth_response_url(redirect)

    access = oauth.get_access_token(code, as_dict=False, check_cache=False)
    cached = oauth.cache_handler.get_cached_token()
    with pytest.raises(SpotifyOauthError) as reused:
        oauth.get_access_token(code, as_dict=False, check_cache=False)

    assert state == "s-42" and redirect.startswith("http://127.0.0.1:8765/callback?")
    assert fake.spotify_client(access).me()["id"] == "bob"
    assert cached["refresh_token"] and cached["expires_in"] == 3600
    assert reused.value.error == "invalid_grant"
    assert [c.status for c in fake.calls if c.route == TOKEN] == [200, 400]
    assert fake.count(TOKEN, user="bob") == 1 and fake.count("GET /authorize", user="bob") == 1


def test_code_exchange_needs_the_same_redirect_uri(fake: FakeSpotify) -> None:
    oauth = fake.oauth()
    code = oauth.parse_response_code(fake.consent(oauth.get_authorize_url(), "ada"))
    other = fake.oauth(redirect_uri="http://127.0.0.1:9/elsewhere")
    with pytest.raises(SpotifyOauthError) as refused:
        other.get_access_token(code, as_dict=False, check_cache=False)
    assert (refused.value.error, refused.value.error_description) == (
        "invalid_grant",
        "Invalid redirect URI",
    )


def test_denied_consent_and_queued_consent(fake: FakeSpotify) -> None:
    oauth = fake.oauth(state="st")
    denied = fake.consent(oauth.get_authorize_url(), "ada", deny=True)
    assert query_of(denied) == {"error": "access_denied", "state": "st"}
    with pytest.raises(SpotifyOauthError) as raised:
        oauth.parse_response_code(denied)
    assert raised.value.error == "access_denied"

    fake.next_consent("cy")
    answer = requests.get(oauth.get_authorize_url(), allow_redirects=False, timeout=5)
    access = oauth.get_access_token(query_of(answer.headers["Location"])["code"], as_dict=False)
    assert fake.spotify_client(access).me()["id"] == "cy"

    page = requests.get(oauth.get_authorize_url(), timeout=5)
    assert page.status_code == 200 and "Agree as" in page.text


def test_authorize_rejects_bad_client_redirect_and_scope(fake: FakeSpotify) -> None:
    good = {
        "client_id": "mixtape-client",
        "response_type": "code",
        "redirect_uri": "http://127.0.0.1:8765/callback",
        "state": "x",
    }

    def ask(**changes: str) -> requests.Response:
        return requests.get(
            fake.authorize_url, params=good | changes, allow_redirects=False, timeout=5
        )

    assert ask(client_id="nope").status_code == 400
    assert ask(redirect_uri="http://evil.example/cb").status_code == 400
    assert query_of(ask(scope="no-such-scope").headers["Location"])["error"] == "invalid_scope"
    assert (
        query_of(ask(response_type="token").headers["Location"])["error"]
        == "unsupported_response_type"
    )


def test_refresh_without_and_with_rotation(fake: FakeSpotify) -> None:
    oauth = fake.oauth()
    oauth.get_access_token(
        oauth.parse_response_code(fake.consent(oauth.get_authorize_url(), "ada")), as_dict=False
    )
    first = oauth.cache_handler.get_cached_token()["refresh_token"]

    raw = requests.post(
        fake.token_url,
        data={"grant_type": "refresh_token", "refresh_token": first},
        auth=("mixtape-client", "mixtape-secret"),
        timeout=5,
    ).json()
    kept = oauth.refresh_access_token(first)
    fake.set_refresh_rotation(True)
    rotated = oauth.refresh_access_token(first)
    with pytest.raises(SpotifyOauthError) as stale:
        oauth.refresh_access_token(first)

    assert (
        "refresh_token" not in raw and raw["token_type"] == "Bearer" and raw["expires_in"] == 3600
    )
    assert kept["refresh_token"] == first  # spotipy keeps the old one when none comes back
    assert rotated["refresh_token"] != first
    assert stale.value.error == "invalid_grant"
    assert fake.spotify_client(rotated["access_token"]).me()["id"] == "ada"
    assert oauth.refresh_access_token(rotated["refresh_token"])["access_token"]


def test_client_credentials_and_client_authentication(fake: FakeSpotify) -> None:
    manager = fake.client_credentials()
    sp = spotipy.Spotify(auth_manager=manager, retries=0, status_retries=0, requests_timeout=5)
    sp.prefix = fake.api_base
    fake.add_track("Searchable", "Anyone")

    assert sp.search("searchable")["tracks"]["total"] == 1
    with pytest.raises(spotipy.SpotifyException) as no_user:
        sp.me()
    by_body = requests.post(
        fake.token_url,
        data={
            "grant_type": "client_credentials",
            "client_id": "mixtape-client",
            "client_secret": "mixtape-secret",
        },
        timeout=5,
    )
    bad_secret = requests.post(
        fake.token_url,
        data={"grant_type": "client_credentials"},
        auth=("mixtape-client", "wrong"),
        timeout=5,
    )
    no_grant = requests.post(fake.token_url, auth=("mixtape-client", "mixtape-secret"), timeout=5)

    assert no_user.value.http_status == 401
    assert by_body.status_code == 200 and "refresh_token" not in by_body.json()
    assert bad_secret.status_code == 400
    assert bad_secret.json() == {
        "error": "invalid_client",
        "error_description": "Invalid client secret",
    }
    assert no_grant.json()["error"] == "unsupported_grant_type"
    assert fake.calls[0].route == TOKEN and fake.calls[0].app_id == "mixtape-client"


def test_expired_access_token_gets_401(fake: FakeSpotify) -> None:
    grant = fake.issue_token("ada")
    sp = fake.spotify_client(grant.access_token)
    assert sp.me()["id"] == "ada"
    fake.expire_token(grant.access_token)
    with pytest.raises(spotipy.SpotifyException) as expired:
        sp.me()
    assert expired.value.http_status == 401 and "The access token expired" in expired.value.msg
    raw = requests.get(
        f"{fake.api_base}me", headers={"Authorization": f"Bearer {grant.access_token}"}, timeout=5
    )
    assert raw.json() == {"error": {"status": 401, "message": "The access token expired"}}


def test_token_lifetime_is_configurable_and_enforced() -> None:
    now = [1000.0]
    with FakeSpotify(token_lifetime=120, clock=lambda: now[0]) as fake:
        fake.add_user("ada")
        grant = fake.issue_token("ada")
        sp = fake.spotify_client(grant.access_token)
        assert grant.expires_in == 120 and sp.me()["id"] == "ada"
        now[0] += 119
        assert sp.me()["id"] == "ada"
        now[0] += 1
        with pytest.raises(spotipy.SpotifyException) as expired:
            sp.me()
        assert expired.value.http_status == 401


def test_development_mode_refuses_users_off_the_allow_list(fake: FakeSpotify) -> None:
    fake.set_development_mode(["ada"])
    oauth = fake.oauth()
    access = oauth.get_access_token(
        oauth.parse_response_code(fake.consent(oauth.get_authorize_url(), "bob")), as_dict=False
    )
    with pytest.raises(spotipy.SpotifyException) as refused:
        fake.spotify_client(access).me()
    raw = requests.get(
        f"{fake.api_base}me", headers={"Authorization": f"Bearer {access}"}, timeout=5
    )

    assert refused.value.http_status == 403
    assert "User not registered in the Developer Dashboard" in refused.value.msg
    assert raw.headers["Content-Type"].startswith("text/plain")
    assert client(fake, "ada").me()["id"] == "ada"


# ------------------------------------------------------------------------- scopes

INSUFFICIENT = {"error": {"status": 403, "message": "Insufficient client scope"}}
PRIVATE_FIELDS = {"country", "product", "explicit_content"}


def scoped(fake: FakeSpotify, user: str, *scopes: str) -> dict[str, str]:
    """Headers carrying a token of `user` that holds exactly `scopes`."""
    return {"Authorization": f"Bearer {fake.issue_token(user, scopes).access_token}"}


def test_me_shows_private_fields_only_with_their_scopes(fake: FakeSpotify) -> None:
    fake.add_user("dora", "Dora", country="DE", product="free", email="dora@example.test")

    def me(*scopes: str) -> dict[str, Any]:
        body: dict[str, Any] = requests.get(
            f"{fake.api_base}me", headers=scoped(fake, "dora", *scopes), timeout=5
        ).json()
        return body

    bare, private = me("playlist-read-private"), me("user-read-private")
    email, both = me("user-read-email"), me("user-read-private", "user-read-email")

    assert bare["id"] == "dora" and bare["display_name"] == "Dora"
    assert not (PRIVATE_FIELDS | {"email"}) & bare.keys()
    assert (private["country"], private["product"]) == ("DE", "free")
    assert private.keys() >= PRIVATE_FIELDS and "email" not in private
    assert email["email"] == "dora@example.test" and not PRIVATE_FIELDS & email.keys()
    assert PRIVATE_FIELDS | {"email"} <= both.keys()


def test_private_entries_need_playlist_read_private(fake: FakeSpotify) -> None:
    songs = fake.generate_tracks(3, seed=31)
    private = fake.add_playlist("ada", "Diary", songs, public=False)
    public = fake.add_playlist("ada", "Radio", songs)
    group = fake.add_playlist("ada", "Band", songs, collaborators=["bob"])
    without = scoped(fake, "ada", "playlist-modify-private")

    def items(playlist_id: str, headers: dict[str, str]) -> requests.Response:
        url = f"{fake.api_base}playlists/{playlist_id}/items"
        return requests.get(url, headers=headers, timeout=5)

    refused = items(private.id, without)
    assert refused.status_code == 403 and refused.json() == INSUFFICIENT
    assert items(public.id, without).status_code == 200  # public entries need no scope
    assert items(private.id, scoped(fake, "ada", "playlist-read-private")).status_code == 200
    # Collaborative playlists are private: reading one's entries takes playlist-read-private.
    assert items(group.id, scoped(fake, "bob", "playlist-read-collaborative")).status_code == 403
    assert items(group.id, scoped(fake, "bob", "playlist-read-private")).status_code == 200

    # The playlist object still answers, but without the entries the token may not read.
    meta = requests.get(f"{fake.api_base}playlists/{private.id}", headers=without, timeout=5)
    assert meta.status_code == 200 and meta.json()["name"] == "Diary"
    assert "items" not in meta.json() and "tracks" not in meta.json()
    assert fake.count(ITEMS, user="ada", status=403) == 1


def test_my_playlists_lists_private_and_collaborative_only_with_their_scopes(
    fake: FakeSpotify,
) -> None:
    fake.add_playlist("ada", "Radio")
    fake.add_playlist("ada", "Diary", public=False)
    fake.add_playlist("bob", "Band", collaborators=["ada"])

    def names(*scopes: str) -> list[str]:
        page = requests.get(
            f"{fake.api_base}me/playlists", headers=scoped(fake, "ada", *scopes), timeout=5
        ).json()
        assert page["total"] == len(page["items"])
        return [p["name"] for p in page["items"]]

    assert names() == ["Radio"]
    assert names("playlist-read-private") == ["Radio", "Diary"]  # not the collaborative one
    assert names("playlist-read-collaborative") == ["Radio", "Band"]
    assert names("playlist-read-private", "playlist-read-collaborative") == [
        "Radio",
        "Diary",
        "Band",
    ]


@pytest.mark.parametrize(
    ("body", "scopes", "status"),
    [
        ({"name": "P"}, ("playlist-modify-private",), 403),  # public by default
        ({"name": "P"}, ("playlist-modify-public",), 201),
        ({"name": "P", "public": False}, ("playlist-modify-public",), 403),
        ({"name": "P", "public": False}, ("playlist-modify-private",), 201),
        ({"name": "C", "public": False, "collaborative": True}, ("playlist-modify-private",), 403),
        (
            {"name": "C", "public": False, "collaborative": True},
            ("playlist-modify-private", "playlist-modify-public"),
            201,
        ),
    ],
)
def test_creating_needs_the_modify_scope_of_the_new_playlist(
    fake: FakeSpotify, body: dict[str, Any], scopes: tuple[str, ...], status: int
) -> None:
    response = requests.post(
        f"{fake.api_base}me/playlists", json=body, headers=scoped(fake, "ada", *scopes), timeout=5
    )

    assert response.status_code == status, response.text
    assert len(fake.playlists_of("ada")) == (1 if status == 201 else 0)
    if status == 403:
        assert response.json() == INSUFFICIENT


def test_adding_needs_the_modify_scope_of_the_target(fake: FakeSpotify) -> None:
    [song] = fake.generate_tracks(1, seed=32)
    public = fake.add_playlist("ada", "Radio")
    private = fake.add_playlist("ada", "Diary", public=False)

    def add(playlist_id: str, scope: str) -> requests.Response:
        url = f"{fake.api_base}playlists/{playlist_id}/items"
        return requests.post(
            url, json={"uris": [song.uri]}, headers=scoped(fake, "ada", scope), timeout=5
        )

    for target, wrong, right in (
        (public, "playlist-modify-private", "playlist-modify-public"),
        (private, "playlist-modify-public", "playlist-modify-private"),
    ):
        refused = add(target.id, wrong)
        assert refused.status_code == 403 and refused.json() == INSUFFICIENT
        assert fake.playlist_uris(target.id) == []
        assert add(target.id, right).status_code == 201
        assert fake.playlist_uris(target.id) == [song.uri]


# ------------------------------------------------------------------------- faults


def test_429_exposes_retry_after_and_reason_to_spotipy(fake: FakeSpotify) -> None:
    sp = plain_session_client(fake, "ada")
    fake.inject(ME, "429", retry_after=7, reason="RATE_LIMITED")
    with pytest.raises(spotipy.SpotifyException) as limited:
        sp.me()
    assert limited.value.http_status == 429
    assert limited.value.headers["Retry-After"] == "7"
    assert limited.value.reason == "RATE_LIMITED"
    assert sp.me()["id"] == "ada"  # times=1: the next call goes through
    window = fake.retry_after_windows[0]
    assert (window.app_id, window.user_id, window.end - window.start) == (
        "mixtape-client",
        "ada",
        7,
    )


def test_spotipy_default_session_hides_retry_after_and_reports_5xx_as_429(
    fake: FakeSpotify,
) -> None:
    """With its Retry adapter (even retries=0) spotipy turns 429 *and* 5xx into RetryError."""
    sp = client(fake, "ada")
    fake.inject(ME, "429", retry_after=3)
    fake.inject("GET /v1/search", "5xx", status=502)
    with pytest.raises(spotipy.SpotifyException) as limited:
        sp.me()
    with pytest.raises(spotipy.SpotifyException) as bad_gateway:
        sp.search("x")
    assert (limited.value.http_status, dict(limited.value.headers)) == (429, {})
    assert "too many 429 error responses" in str(limited.value.reason)
    assert bad_gateway.value.http_status == 429
    assert "too many 502 error responses" in str(bad_gateway.value.reason)
    assert [c.status for c in fake.calls] == [429, 502]


@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx_faults(fake: FakeSpotify, status: int) -> None:
    sp = plain_session_client(fake, "ada")
    fake.inject(ITEMS, "5xx", status=status)
    playlist = fake.add_playlist("ada", "P")
    with pytest.raises(spotipy.SpotifyException) as failed:
        sp.playlist_items(playlist.id)
    assert failed.value.http_status == status
    assert sp.playlist_items(playlist.id)["total"] == 0
    assert [c.status for c in fake.calls] == [status, 200]


def test_delay_fault_and_a_client_timeout_that_still_applies_the_change(fake: FakeSpotify) -> None:
    track = fake.add_track("Slow", "Snail")
    playlist = fake.add_playlist("ada", "P")
    fake.inject(ME, "delay", seconds=0.3)
    started = time.monotonic()
    client(fake, "ada").me()
    assert time.monotonic() - started >= 0.3

    fake.inject(ADD, "delay", seconds=0.5)
    impatient = client(fake, "ada", requests_timeout=0.1)
    with pytest.raises(requests.exceptions.ReadTimeout):
        impatient.playlist_add_items(playlist.id, [track.uri])
    call = fake.wait_for_calls(1, route=ADD)[0]
    assert (call.status, call.fault) == (201, "delay")
    assert fake.playlist_uris(playlist.id) == [track.uri]


def test_apply_then_drop_commits_but_the_client_sees_a_connection_error(fake: FakeSpotify) -> None:
    track = fake.add_track("Lost", "Reply")
    playlist = fake.add_playlist("ada", "P")
    sp = client(fake, "ada")
    fake.inject(ADD, "drop")
    fake.inject("POST /v1/me/playlists", "drop")

    with pytest.raises(requests.exceptions.ConnectionError):
        sp.playlist_add_items(playlist.id, [track.uri])
    with pytest.raises(requests.exceptions.ConnectionError):
        sp.current_user_playlist_create("Ghost")

    assert fake.playlist_uris(playlist.id) == [track.uri]
    assert [p.name for p in fake.playlists_of("ada")] == ["P", "Ghost"]
    assert [(c.status, c.dropped) for c in fake.calls] == [(201, True), (201, True)]
    assert sp.playlist_items(playlist.id)["total"] == 1  # a new connection works


def test_stall_hangs_then_dies_without_applying(fake: FakeSpotify) -> None:
    track = fake.add_track("Never", "Sent")
    playlist = fake.add_playlist("ada", "P")
    sp = client(fake, "ada")
    fault = fake.inject(ADD, "stall", seconds=0.2)

    started = time.monotonic()
    with pytest.raises(requests.exceptions.ConnectionError):
        sp.playlist_add_items(playlist.id, [track.uri])

    assert time.monotonic() - started >= 0.2
    assert fault.fired == 1
    assert fake.playlist_uris(playlist.id) == []
    assert [(c.fault, c.dropped) for c in fake.calls] == [("stall", True)]


def test_faults_respect_times_user_and_wildcard(fake: FakeSpotify) -> None:
    ada, bob = plain_session_client(fake, "ada"), plain_session_client(fake, "bob")
    fault = fake.inject("*", "5xx", times=2, status=500, user="bob")
    forever = fake.inject(ME, "5xx", times=None, status=503, user="cy")
    cy = plain_session_client(fake, "cy")

    assert ada.me()["id"] == "ada"
    for _ in range(2):
        with pytest.raises(spotipy.SpotifyException):
            bob.me()
    assert bob.me()["id"] == "bob"
    for _ in range(3):
        with pytest.raises(spotipy.SpotifyException):
            cy.me()
    fake.clear_faults()
    assert cy.me()["id"] == "cy"
    assert (fault.fired, fault.remaining, forever.fired) == (2, 0, 3)
    with pytest.raises(ValueError, match="unknown route"):
        fake.inject("GET /v1/playlist/{id}", "429")


def test_a_fault_can_let_calls_through_first(fake: FakeSpotify) -> None:
    ada = plain_session_client(fake, "ada")
    third = fake.inject(ME, "5xx", times=1, status=502, user="ada", skip=2)

    assert [ada.me()["id"] for _ in range(2)] == ["ada", "ada"]
    assert third.fired == 0
    with pytest.raises(spotipy.SpotifyException) as failed:
        ada.me()
    assert failed.value.http_status == 502 and third.fired == 1
    assert ada.me()["id"] == "ada"


def test_rate_limit_window_and_retry_after_violations(fake: FakeSpotify) -> None:
    fake.set_rate_limit(3, window_seconds=1.0)
    sp = plain_session_client(fake, "ada")
    for _ in range(3):
        sp.me()
    with pytest.raises(spotipy.SpotifyException) as limited:
        sp.me()
    retry_after = int(limited.value.headers["Retry-After"])
    fake.add_app("other-app", "secret", [])
    other = fake.spotify_client(fake.issue_token("bob", client_id="other-app").access_token)
    assert other.me()["id"] == "bob"  # the window is per app

    time.sleep(retry_after)  # a well-behaved client waits as told
    assert sp.me()["id"] == "ada"
    assert retry_after == 1 and fake.calls_inside_retry_after_windows() == []

    sp.me()
    sp.me()
    for _ in range(2):  # over the limit, then an impatient immediate retry
        with pytest.raises(spotipy.SpotifyException):
            sp.me()
    violations = fake.calls_inside_retry_after_windows()
    assert [(c.user_id, c.status, c.fault) for c in violations] == [("ada", 429, "rate_limit")]
    assert fake.calls_inside_retry_after_windows(per="user") == violations
    assert fake.calls_inside_retry_after_windows(grace=0.5) == []
    assert fake.count(ME, status=429) == 3


# ------------------------------------------------------------------------- bookkeeping


def test_calls_are_counted_by_route_and_user(fake: FakeSpotify) -> None:
    playlist = fake.add_playlist("ada", "P", collaborators=["bob"])
    ada, bob = client(fake, "ada"), client(fake, "bob")
    ada.me()
    ada.playlist(playlist.id)
    bob.playlist_items(playlist.id)
    bob.playlist_items(playlist.id)
    missing = requests.get(f"{fake.api_base}no/such/route", headers=bearer(fake, "cy"), timeout=5)

    assert [c.route for c in fake.calls] == [
        ME,
        "GET /v1/playlists/{id}",
        ITEMS,
        ITEMS,
        "UNMATCHED",
    ]
    assert (
        fake.count(ITEMS) == 2
        and fake.count(ITEMS, user="bob") == 2
        and fake.count(user="ada") == 2
    )
    assert missing.status_code == 404 and missing.json()["error"]["status"] == 404
    assert fake.calls[2].path == f"/v1/playlists/{playlist.id}/items"
    assert fake.calls[2].query["limit"] == "50" and fake.calls[0].app_id == "mixtape-client"
    fake.reset_calls()
    assert fake.calls == [] and fake.count() == 0


def test_latency_applies_to_every_call(fake: FakeSpotify) -> None:
    sp = client(fake, "ada")
    fake.set_latency(0.15)
    started = time.monotonic()
    sp.me()
    requests.post(
        fake.token_url,
        data={"grant_type": "client_credentials"},
        auth=("mixtape-client", "mixtape-secret"),
        timeout=5,
    )
    assert time.monotonic() - started >= 0.3


def test_generated_tracks_are_deterministic_unique_and_realistic() -> None:
    first, second, other = FakeSpotify(), FakeSpotify(), FakeSpotify()
    tracks = first.generate_tracks(2000, seed=42)
    again = second.generate_tracks(2000, seed=42)
    different = other.generate_tracks(50, seed=43)

    assert [(t.id, t.isrc, t.name) for t in tracks] == [(t.id, t.isrc, t.name) for t in again]
    assert [t.id for t in FakeSpotify().generate_tracks(30, seed=42)] == [t.id for t in tracks[:30]]
    assert {t.isrc for t in different}.isdisjoint(t.isrc for t in tracks[:50])
    assert len({t.id for t in tracks}) == len({t.isrc for t in tracks}) == 2000
    assert len({(t.name, t.artists[0].name) for t in tracks}) == 2000
    assert all(re.fullmatch(r"[A-Z]{2}[A-Z0-9]{3}\d{7}", t.isrc) for t in tracks)
    assert all(120_000 <= t.duration_ms <= 420_000 for t in tracks)
    assert first.find_by_isrc(tracks[7].isrc) is tracks[7]
    with pytest.raises(ValueError, match="already in the catalogue"):
        first.generate_tracks(10, seed=42)


def test_deleting_a_playlist_unfollows_it_as_spotify_does(fake: FakeSpotify) -> None:
    """Gone from the owner's library, still there: the owner can read and add to it."""
    sp = fake.spotify_client(fake.issue_token("ada").access_token)
    made = sp.current_user_playlist_create("Kept", public=False)
    song = fake.generate_tracks(1, seed=3)[0]

    sp.current_user_unfollow_playlist(made["id"])

    listed = [p["id"] for p in sp.current_user_playlists()["items"]]
    assert made["id"] not in listed
    sp.playlist_add_items(made["id"], [song.uri])  # Spotify lets the owner still write
    assert fake.playlist_uris(made["id"]) == [song.uri]
    assert fake.count("DELETE /v1/playlists/{id}/followers") == 1


# ------------------------------------------------------------------ PKCE and show_dialog


def test_pkce_binds_the_code_to_its_verifier(fake: FakeSpotify) -> None:
    verifier = "v" * 43 + "-._~" + "0" * 10
    url = (
        fake.oauth().get_authorize_url()
        + "&"
        + "&".join([f"code_challenge={pkce_challenge(verifier)}", "code_challenge_method=S256"])
    )
    codes = [query_of(fake.consent(url, "ada"))["code"] for _ in range(4)]
    app = fake.default_app

    def exchange(code: str, **extra: str) -> requests.Response:
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": sorted(app.redirect_uris)[0],
        } | extra
        return requests.post(
            fake.token_url, data=form, auth=(app.client_id, app.client_secret), timeout=5
        )

    missing = exchange(codes[0])
    wrong = exchange(codes[1], code_verifier=verifier + "x")
    right = exchange(codes[2], code_verifier=verifier)

    assert (missing.status_code, missing.json()) == (
        400,
        {"error": "invalid_request", "error_description": "code_verifier required"},
    )
    assert (wrong.status_code, wrong.json()) == (
        400,
        {"error": "invalid_grant", "error_description": "code_verifier was incorrect"},
    )
    assert right.status_code == 200 and right.json()["refresh_token"]
    # Spotify supports S256 only.
    plain = url.replace("code_challenge_method=S256", "code_challenge_method=plain")
    assert query_of(fake.consent(plain, "ada"))["error"] == "invalid_request"


def test_a_signed_in_browser_skips_the_dialog_unless_show_dialog(fake: FakeSpotify) -> None:
    url = fake.oauth(state="s").get_authorize_url()
    browser = requests.Session()

    first = browser.get(fake.consent_url(url, "bob"), allow_redirects=False, timeout=5)
    again = browser.get(url, allow_redirects=False, timeout=5)
    asked = browser.get(url + "&show_dialog=true", allow_redirects=False, timeout=5)
    stranger = requests.get(url, allow_redirects=False, timeout=5)

    assert first.status_code == 302 and "sp_dc" in browser.cookies
    # Approved before, signed in: straight back with a code, as Bob, no dialog.
    assert again.status_code == 302 and "code" in query_of(again.headers["Location"])
    assert fake.count("GET /authorize", user="bob") == 2
    assert asked.status_code == 200 and "Agree as" in asked.text
    assert stranger.status_code == 200 and "Agree as" in stranger.text
    # More scopes than approved: the dialog again.
    wider = fake.oauth(scope=[*DEFAULT_SCOPES, "user-library-read"]).get_authorize_url()
    assert browser.get(wider, allow_redirects=False, timeout=5).status_code == 200
