"""Every form people paste, and every form that must be refused with a specific message."""

from __future__ import annotations

import pytest

from music.urls import PlaylistLinkError, parse_playlist_link

PID = "37i9dQZF1DXcBWIGoYBM5M"


@pytest.mark.parametrize(
    "raw",
    [
        f"https://open.spotify.com/playlist/{PID}",
        f"https://open.spotify.com/playlist/{PID}?si=abc123def456",
        f"https://open.spotify.com/intl-de/playlist/{PID}?si=x",
        f"http://open.spotify.com/playlist/{PID}",
        f"open.spotify.com/playlist/{PID}",
        f"spotify:playlist:{PID}",
        f"spotify:user:someone:playlist:{PID}",
        f"https://open.spotify.com/user/someone/playlist/{PID}",
        f"  https://open.spotify.com/playlist/{PID}  \n",
        f"<https://open.spotify.com/playlist/{PID}>",
        f" <spotify:playlist:{PID}> ",
    ],
)
def test_accepts_every_pasted_form(raw: str) -> None:
    ref = parse_playlist_link(raw)
    assert (ref.provider, ref.playlist_id) == ("spotify", PID)
    assert ref.url == f"https://open.spotify.com/playlist/{PID}"


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        (f"https://open.spotify.com/album/{PID}", "album link, not a playlist"),
        (f"https://open.spotify.com/track/{PID}", "track link, not a playlist"),
        (f"spotify:track:{PID}", "track link, not a playlist"),
        ("https://music.youtube.com/playlist?list=PL123", "isn't a Spotify link"),
        ("https://example.com/playlist/" + PID, "isn't a Spotify link"),
        ("hello there", "isn't a Spotify link"),
        ("", "Paste a Spotify playlist link"),
        ("   ", "Paste a Spotify playlist link"),
        ("https://open.spotify.com/playlist/abc", "22 letters and digits"),
        ("https://spotify.link/AbCdEf", "spotify.link"),
        ("x" * 10_000, "10,000 characters"),
        ("https://open.spotify.com/", "doesn't point at a playlist"),
    ],
)
def test_refuses_with_a_specific_reason(raw: str, fragment: str) -> None:
    with pytest.raises(PlaylistLinkError) as err:
        parse_playlist_link(raw)
    assert fragment in str(err.value)
