"""The session's traffic check: what the fakes sample, and that a wrong shape is named.

Real clients (spotipy, plain HTTP) talk to the fakes with a sampler of the test's own
switched on; the check passes that traffic, then fails copies of it that break the spec in
one place each, naming the operation, the status and the field. The last test runs pytest
in a subprocess to show that such a mismatch fails the whole run.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import requests
import spotipy

from fakes import traffic
from fakes.discord_api import FakeDiscord
from fakes.spotify import FakeSpotify
from fakes.traffic import ALWAYS, THEN_ONE_IN, Exchange, TrafficSampler, load_dump, shape
from tests.contract import openapi
from tests.contract.openapi import REPO_ROOT
from tests.contract.traffic import Mismatch, check_session_traffic, check_traffic

ADD_ITEMS = "POST /playlists/{playlist_id}/items"
CREATE_MESSAGE = "POST /channels/{channel_id}/messages"


@pytest.fixture
def sampler(monkeypatch: pytest.MonkeyPatch) -> TrafficSampler:
    """A sampler of this test's own, switched on (the session's is off for contract tests)."""
    fresh = TrafficSampler(enabled=True, origin="test_traffic_check")
    monkeypatch.setattr(traffic, "SAMPLER", fresh)
    return fresh


@pytest.fixture(scope="module")
def spotify() -> Iterator[FakeSpotify]:
    with FakeSpotify() as fake:
        fake.add_user("ada", "Ada")
        fake.generate_tracks(3, seed=7)
        yield fake


@pytest.fixture(scope="module")
def discord() -> Iterator[FakeDiscord]:
    with FakeDiscord() as fake:
        yield fake


def _spotify_session(fake: FakeSpotify) -> None:
    client = fake.spotify_client(fake.issue_token("ada").access_token)
    uris = [t.uri for t in fake.tracks.values()]
    created = client.current_user_playlist_create("Mix", public=False)
    add = f"playlists/{created['id']}/items"
    # the body the spec documents (spotipy's playlist_add_items posts a bare array instead)
    client._post(add, payload={"uris": uris})
    client._post(add, payload={"uris": uris[:1], "position": 0})
    client.playlist_items(created["id"], limit=50, additional_types=("track", "episode"))
    client.current_user()


def _discord_session(fake: FakeDiscord) -> None:
    url = f"{fake.api_base}/channels/{fake.channel_id}/messages"
    auth = {"Authorization": f"Bot {fake.token}"}
    sent = requests.post(url, json={"content": "hello"}, headers=auth, timeout=5)
    sent.raise_for_status()
    requests.get(url, params={"limit": "5"}, headers=auth, timeout=5).raise_for_status()


def _judge(sampler: TrafficSampler) -> list[Mismatch]:
    return check_traffic(sampler).mismatches


def _sampler_of(*exchanges: Exchange) -> TrafficSampler:
    """A sampler holding exactly these exchanges (bodies and queries)."""
    sampler = TrafficSampler(enabled=True)
    for exchange in exchanges:
        sampler.offer(exchange, lambda e=exchange: (e.request, e.response))  # type: ignore[misc]
    return sampler


def _sample(sampler: TrafficSampler, operation: str, status: int) -> Exchange:
    """The sampled exchange of an operation (`operation` uses the fake's path, e.g. /v1)."""
    method, path = operation.split(" ", 1)
    for sample in sampler.samples():
        ex = sample.exchange
        if (ex.method, ex.status) == (method, status) and ex.route.endswith(path):
            return ex
    raise AssertionError(f"no {operation} {status} sampled")


def _only(mismatches: list[Mismatch]) -> Mismatch:
    assert len(mismatches) == 1, [str(m) for m in mismatches]
    return mismatches[0]


def _wrong(exchange: Exchange, **changes: Any) -> list[Mismatch]:
    return _judge(_sampler_of(replace(exchange, **changes)))


def test_real_clients_traffic_passes_and_is_sampled_once_per_shape(
    sampler: TrafficSampler, spotify: FakeSpotify, discord: FakeDiscord
) -> None:
    _spotify_session(spotify)
    _spotify_session(spotify)
    _discord_session(discord)
    assert _judge(sampler) == []
    add = _sample(sampler, "POST /playlists/{id}/items", 201)
    assert add.request["uris"] and add.request_type == "application/json"
    assert set(add.response) == {"snapshot_id"} and add.origin == "test_traffic_check"
    # the second session repeats every shape: counted, not kept again
    assert sampler.offered == 2 * 5 + 2
    assert len(sampler.samples()) < sampler.offered
    assert {tuple(q.exchange.query) for q in sampler.queries()} >= {("limit",)}


def test_a_response_missing_a_required_field_is_named(
    sampler: TrafficSampler, discord: FakeDiscord
) -> None:
    _discord_session(discord)
    create = _sample(sampler, "POST /channels/{channel_id}/messages", 200)
    no_author = {k: v for k, v in create.response.items() if k != "author"}
    found = _only(_wrong(create, response=no_author))
    assert (found.service, found.operation, found.status) == ("discord", CREATE_MESSAGE, 200)
    assert (found.part, found.field, found.message) == ("response body", "$.author",
                                                        "required, missing")  # fmt: skip
    assert "test_traffic_check" in str(found) and "$.author" in str(found)


def test_a_response_field_of_the_wrong_type_is_named(
    sampler: TrafficSampler, spotify: FakeSpotify
) -> None:
    _spotify_session(spotify)
    add = _sample(sampler, "POST /playlists/{id}/items", 201)
    found = _only(_wrong(add, response={"snapshot_id": 5}))
    assert (found.service, found.operation, found.status) == ("spotify", ADD_ITEMS, 201)
    assert (found.part, found.field) == ("response body", "$.snapshot_id")
    assert "not of type 'string'" in found.message


def test_a_request_field_of_the_wrong_type_is_named(
    sampler: TrafficSampler, discord: FakeDiscord
) -> None:
    _discord_session(discord)
    create = _sample(sampler, "POST /channels/{channel_id}/messages", 200)
    found = _only(_wrong(create, request={"content": 5}))
    assert (found.operation, found.status, found.part) == (CREATE_MESSAGE, None, "request body")
    assert found.field == "$.content" and "5" in found.message


def test_a_misspelt_request_key_is_named(sampler: TrafficSampler, discord: FakeDiscord) -> None:
    _discord_session(discord)
    create = _sample(sampler, "POST /channels/{channel_id}/messages", 200)
    found = _only(_wrong(create, request={"contnet": "hi"}))
    assert (found.part, found.field) == ("request body", "$.contnet")
    assert found.message == "a key the schema does not declare"


def test_query_values_and_names_are_checked(sampler: TrafficSampler, spotify: FakeSpotify) -> None:
    _spotify_session(spotify)
    [page] = [q.exchange for q in sampler.queries() if q.exchange.method == "GET"
              and q.exchange.route.endswith("/items")]  # fmt: skip
    wrong = _wrong(page, query={"limit": "100", "fields": "x", "offest": "0"})
    by_field = {m.field: m for m in wrong if m.part == "query"}
    assert set(by_field) == {"limit", "offest"}
    assert by_field["limit"].part == "query" and "maximum of 50" in by_field["limit"].message
    assert "no such query parameter" in by_field["offest"].message


def test_error_answers_are_held_to_the_error_schemas(
    sampler: TrafficSampler, spotify: FakeSpotify, discord: FakeDiscord
) -> None:
    spotify.inject("GET /v1/me", "429", retry_after=1)
    discord.force_429("POST /channels/{channel_id}/messages", retry_after=0.01)
    with pytest.raises(spotipy.SpotifyException):  # no retries: the 429 is the answer
        spotify.spotify_client(spotify.issue_token("ada").access_token).current_user()
    with pytest.raises(requests.HTTPError):
        _discord_session(discord)
    assert _judge(sampler) == []
    limited = _sample(sampler, "GET /me", 429)
    found = _only(_wrong(limited, response={"error": {"message": "slow down"}}))
    assert (found.operation, found.status, found.field) == ("GET /me", 429, "$.error.status")
    discord_limited = _sample(sampler, "POST /channels/{channel_id}/messages", 429)
    found = _only(_wrong(discord_limited, response={"message": "slow", "code": 0, "global": False}))
    assert (found.status, found.field) == (429, "$.retry_after")


def test_spotipys_add_body_is_not_the_documented_one(
    sampler: TrafficSampler, spotify: FakeSpotify
) -> None:
    """spotipy 2.26's `playlist_add_items` posts the URIs as a bare JSON array (and
    `position` in the query); the spec documents an object with `uris` and `position`."""
    client = spotify.spotify_client(spotify.issue_token("ada").access_token)
    created = client.current_user_playlist_create("Bare")
    client.playlist_add_items(created["id"], list(spotify.tracks)[:1], position=0)
    found = _only(_judge(sampler))
    assert (found.operation, found.part, found.field) == (ADD_ITEMS, "request body", "$")
    assert "is not of type 'object'" in found.message


def test_shape_keeps_structure_and_variant_not_values() -> None:
    page = {"items": [{"type": "track", "id": "a"}, {"type": "track", "id": "b"}]}
    assert shape(page) == shape({"items": [{"type": "track", "id": "c"}]})
    assert shape(page) != shape({"items": [{"type": "episode", "id": "a"}]})
    assert shape({"x": None}) != shape({"x": "a"}) != shape({"x": ""})


def test_the_sampler_is_bounded() -> None:
    sampler = TrafficSampler(enabled=True, max_samples=2, max_queries=1)
    base = Exchange("spotify", "GET", "/v1/me", "GET /v1/me", {}, None, "", 200, None, "")
    for key in "abc":
        sampler.offer(replace(base, query={"q": key}), lambda k=key: (None, {k: 1}))  # type: ignore[misc]
    assert (len(sampler.samples()), len(sampler.queries()), sampler.offered) == (2, 1, 3)
    assert sampler.unsampled == 3  # one body shape and two queries were over the caps


def test_a_busy_route_is_looked_at_one_in_ten_times_after_the_first_fifty() -> None:
    sampler = TrafficSampler(enabled=True)
    base = Exchange("spotify", "GET", "/v1/me", "GET /v1/me", {}, None, "", 200, None, "")
    for _ in range(ALWAYS + 10 * THEN_ONE_IN):
        sampler.offer(base, lambda: (None, {"id": "x"}))
    assert (sampler.offered, sampler.shaped) == (ALWAYS + 10 * THEN_ONE_IN, ALWAYS + 10)
    [only] = sampler.samples()
    assert only.seen == sampler.shaped


BAD_TEST = """
import requests
from fakes import traffic
from fakes.spotify import FakeSpotify

def test_sends_a_position_of_the_wrong_type():
    traffic.SAMPLER.enabled = True  # as in the folders that run Mixtape's code
    with FakeSpotify() as fake:
        fake.add_user("ada")
        token = fake.issue_token("ada").access_token
        headers = {"Authorization": f"Bearer {token}"}
        created = requests.post(fake.api_base + "me/playlists", json={"name": "Mix"},
                                headers=headers, timeout=5).json()
        requests.post(fake.api_base + f"playlists/{created['id']}/items",
                      json={"uris": [], "position": "first"}, headers=headers, timeout=5)
"""


def test_a_mismatch_fails_the_run_and_is_named(tmp_path: Path) -> None:
    """The session hook in tests/conftest.py, loaded as a plugin into a run of one test
    that passes but sends a body of the wrong shape."""
    (tmp_path / "test_bad.py").write_text(BAD_TEST)
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.conftest", "-p", "no:cacheprovider",
         "-q", str(tmp_path / "test_bad.py")],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert "1 passed" in run.stdout, run.stdout[-3000:]
    assert run.returncode == 1, run.stdout[-3000:]
    assert f"spotify {ADD_ITEMS}: request body $.position" in run.stdout, run.stdout[-3000:]


def test_a_missing_spec_is_an_error_not_a_skip(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(openapi, "SPECS_DIR", tmp_path)
    with pytest.raises(FileNotFoundError, match="discord-openapi.json is missing"):
        openapi.load_vendor_spec("discord-openapi.json")


def test_keys_discord_py_always_sends_are_tolerated_and_listed(
    sampler: TrafficSampler, discord: FakeDiscord
) -> None:
    """discord.py's embeds carry `flags` and its edits `tts`: neither is in the spec, and
    neither fakes nor tests can change that, so they are reported apart, not failed."""
    _discord_session(discord)
    create = _sample(sampler, "POST /channels/{channel_id}/messages", 200)
    edit = replace(create, method="PATCH", path=f"{create.path}/1",
                   request={"embeds": [{"title": "t", "flags": 0}], "tts": False})  # fmt: skip
    report = check_traffic(_sampler_of(edit))
    assert report.mismatches == []
    tolerated = [line for line in report.lines() if "tolerated:" in line]
    assert len(tolerated) == 2 and any("$.embeds[].flags" in line for line in tolerated)


def test_a_subprocess_sample_survives_the_hand_over(
    sampler: TrafficSampler, spotify: FakeSpotify, tmp_path: Path
) -> None:
    _spotify_session(spotify)
    sampler.dump(tmp_path / "traffic-1.json")
    loaded = load_dump(tmp_path / "traffic-1.json")
    assert [s.exchange for s in loaded.samples()] == [s.exchange for s in sampler.samples()]
    assert [s.exchange for s in loaded.queries()] == [s.exchange for s in sampler.queries()]
    assert (loaded.offered, loaded.shaped) == (sampler.offered, sampler.shaped)
    report = check_session_traffic(TrafficSampler(), tmp_path)
    assert report is not None and report.mismatches == [] and report.offered == sampler.offered


def test_answers_the_client_never_heard_are_not_judged(
    sampler: TrafficSampler, spotify: FakeSpotify
) -> None:
    """A dropped connection, or a stall the client gave up on, sends no answer to judge."""
    headers = {"Authorization": f"Bearer {spotify.issue_token('ada').access_token}"}
    spotify.inject("GET /v1/me", "drop")
    spotify.inject("GET /v1/me", "stall", seconds=0.5)
    for timeout in (5.0, 0.1):
        with pytest.raises((requests.ConnectionError, requests.Timeout)):
            requests.get(spotify.api_base + "me", headers=headers, timeout=timeout)
    spotify.wait_for_calls(2, "GET /v1/me")
    assert sampler.offered == 0


def test_an_answer_cut_down_by_fields_is_judged_without_required_keys(
    sampler: TrafficSampler, spotify: FakeSpotify
) -> None:
    client = spotify.spotify_client(spotify.issue_token("ada").access_token)
    created = client.current_user_playlist_create("Cut", public=False)
    client._post(
        f"playlists/{created['id']}/items",
        payload={"uris": [next(iter(spotify.tracks.values())).uri]},
    )
    client.playlist_items(created["id"], fields="total,items(item(uri),track(uri))")
    client.playlist(created["id"], fields="id,name,owner(id,display_name),items(total)")
    assert _judge(sampler) == []

    cut = _sample(sampler, "GET /playlists/{id}/items", 200)
    assert set(cut.response) == {"total", "items"}
    # Still held to the schema's types: a filtered `total` must be an integer.
    mismatch = _only(_wrong(cut, response={**cut.response, "total": "1"}))
    assert (mismatch.field, mismatch.status) == ("$.total", 200)
    # Without `fields`, the same answer lacks required keys.
    whole = _wrong(cut, query={k: v for k, v in cut.query.items() if k != "fields"})
    assert {m.field for m in whole} >= {"$.href", "$.limit", "$.next", "$.offset"}
