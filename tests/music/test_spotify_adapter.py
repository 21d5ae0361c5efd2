"""The adapter with real spotipy against the fake: every failure arrives classified."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from fakes.spotify import FakeSpotify
from music.errors import AuthExpired, Permanent, RateLimited, Transient
from music.models import parse_items_page
from music.spotify import SCOPES, SpotifyAdapter, SpotifyConfig, add_items

ITEMS = "GET /v1/playlists/{id}/items"
ADD = "POST /v1/playlists/{id}/items"


@pytest.fixture
def fake() -> Iterator[FakeSpotify]:
    with FakeSpotify() as spotify:
        spotify.add_user("alice", "Alice")
        yield spotify


def _adapter(fake: FakeSpotify, threads: int = 8) -> SpotifyAdapter:
    """The adapter aimed at the fake, as the bot and the worker configure it."""
    app = fake.apps[fake.default_client_id]
    return SpotifyAdapter(
        SpotifyConfig(
            client_id=app.client_id,
            client_secret=app.client_secret,
            redirect_uri=sorted(app.redirect_uris)[0],
            api_base=fake.api_base,
            accounts_base=fake.accounts_base,
            timeout_seconds=2,
            threads=threads,
        )
    )


@pytest.fixture
def adapter(fake: FakeSpotify) -> Iterator[SpotifyAdapter]:
    adapter = _adapter(fake)
    yield adapter
    adapter.close()


def _token(fake: FakeSpotify, user: str = "alice") -> dict[str, Any]:
    grant = fake.issue_token(user, SCOPES)
    return {
        "access_token": grant.access_token,
        "refresh_token": grant.refresh_token,
        "expires_at": int(time.time()) + grant.expires_in,
        "scope": " ".join(SCOPES),
        "token_type": "Bearer",
    }


async def test_reads_pages_as_the_member(fake: FakeSpotify, adapter: SpotifyAdapter) -> None:
    tracks = fake.generate_tracks(120, seed=1)
    playlist = fake.add_playlist("alice", "Mix", tracks)
    result = await adapter.as_user(
        _token(fake), lambda sp: sp.playlist_items(playlist.id, limit=50, offset=100)
    )
    page = parse_items_page(result.value)
    assert [t.uri for _, t in page.tracks] == fake.playlist_uris(playlist.id)[100:]
    assert [p for p, _ in page.tracks] == list(range(100, 120))
    assert result.token_changed is False


async def test_calls_as_members_reuse_their_thread_s_connection(fake: FakeSpotify) -> None:
    """A spotipy client closes its session when it is collected; the adapter's pooled
    session must outlive the client made for each call, or every call opens a connection."""
    adapter = _adapter(fake, threads=1)  # one pool thread: one session to reuse
    try:
        for _ in range(5):
            await adapter.as_user(_token(fake), lambda sp: sp.current_user())
    finally:
        adapter.close()
    assert fake.count() == 5
    assert fake.connections() == 1


async def test_429_keeps_retry_after(fake: FakeSpotify, adapter: SpotifyAdapter) -> None:
    playlist = fake.add_playlist("alice", "Mix", fake.generate_tracks(3, seed=2))
    fake.inject(ITEMS, "429", retry_after=7)
    with pytest.raises(RateLimited) as err:
        await adapter.as_user(_token(fake), lambda sp: sp.playlist_items(playlist.id))
    assert err.value.retry_after == 7
    assert fake.count(ITEMS) == 1  # spotipy did not retry on its own


async def test_5xx_is_transient_with_its_real_status(
    fake: FakeSpotify, adapter: SpotifyAdapter
) -> None:
    playlist = fake.add_playlist("alice", "Mix", fake.generate_tracks(3, seed=3))
    fake.inject(ITEMS, "5xx", status=502)
    with pytest.raises(Transient, match="502"):
        await adapter.as_user(_token(fake), lambda sp: sp.playlist_items(playlist.id))


async def test_dropped_write_is_ambiguous(fake: FakeSpotify, adapter: SpotifyAdapter) -> None:
    tracks = fake.generate_tracks(2, seed=4)
    playlist = fake.add_playlist("alice", "Target", [])
    fake.inject(ADD, "drop")
    with pytest.raises(Transient) as err:
        await adapter.as_user(
            _token(fake),
            lambda sp: add_items(sp, playlist.id, [t.uri for t in tracks]),
            write=True,
        )
    assert err.value.ambiguous is True
    assert fake.playlist_uris(playlist.id) == [t.uri for t in tracks]  # it did land


async def test_not_found_is_permanent(fake: FakeSpotify, adapter: SpotifyAdapter) -> None:
    with pytest.raises(Permanent) as err:
        await adapter.as_user(_token(fake), lambda sp: sp.playlist("0" * 22))
    assert err.value.status == 404


async def test_expired_token_is_refreshed_and_rotation_reported(
    fake: FakeSpotify, adapter: SpotifyAdapter
) -> None:
    fake.set_refresh_rotation(True)
    token = _token(fake)
    token["expires_at"] = int(time.time()) - 10
    result = await adapter.as_user(token, lambda sp: sp.me())
    assert result.value["id"] == "alice"
    assert result.token_changed is True
    assert result.token_info["refresh_token"] != token["refresh_token"]
    assert fake.count("POST /api/token") == 1


async def test_revoked_grant_is_auth_expired(fake: FakeSpotify, adapter: SpotifyAdapter) -> None:
    token = _token(fake)
    token["expires_at"] = int(time.time()) - 10
    fake.revoke_refresh_tokens("alice")
    with pytest.raises(AuthExpired):
        await adapter.as_user(token, lambda sp: sp.me())
