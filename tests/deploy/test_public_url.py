"""One PUBLIC_BASE_URL names where members' browsers reach the bot; the redirect URI and
/link's page follow from it, and an address Spotify would refuse is refused at start."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from pydantic import ValidationError

from bot.oauth_server import OAuthCallbackServer
from mixtape.settings import Settings


def settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def test_the_redirect_uri_and_the_link_page_follow_from_the_public_base_url() -> None:
    configured = settings(public_base_url="https://mixtape.example.org/")
    assert configured.spotify_redirect_uri == "https://mixtape.example.org/spotify/callback"

    server = OAuthCallbackServer(SimpleNamespace(settings=configured))  # type: ignore[arg-type]
    assert server.link_url("s") == "https://mixtape.example.org/spotify/link?state=s"
    assert server.path == "/spotify/callback"


def test_an_explicit_redirect_uri_wins_and_without_either_the_loopback_default_holds() -> None:
    both = settings(
        public_base_url="https://a.example.org", spotify_redirect_uri="https://b.example.org/cb"
    )
    assert both.spotify_redirect_uri == "https://b.example.org/cb"
    assert settings().spotify_redirect_uri == "http://127.0.0.1:8765/spotify/callback"


@pytest.mark.parametrize(
    "refused",
    [
        "http://mixtape.example.org",
        "http://localhost:8765",
        "mixtape.example.org",
        "https://x.org/?a=1",
    ],
)
def test_an_address_spotify_would_refuse_is_refused_at_start(refused: str) -> None:
    with pytest.raises(ValidationError, match="PUBLIC_BASE_URL"):
        settings(public_base_url=refused)
    assert settings(public_base_url="http://127.0.0.1:8765").public_base_url
