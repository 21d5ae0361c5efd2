"""The link parser is total: for any text it returns a playlist or says, in words, why not.

A crash here reaches the member as "something went wrong on our side", so arbitrary text
and link-shaped text built from the pieces that trip `urllib` (IPv6 brackets, full-width
look-alikes of `/?#@:`, ports, percent signs) are thrown at it.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from music.urls import PlaylistLinkError, PlaylistRef, parse_playlist_link

PID = "37i9dQZF1DXcBWIGoYBM5M"

PIECES = [
    "https://",
    "http://",
    "spotify:",
    "open.spotify.com",
    "play.spotify.com",
    "spotify.link",
    "/",
    "playlist",
    "user",
    "album",
    ":",
    "[",
    "]",
    "＃",
    "＃",
    "／",
    "？",
    "＠",
    "：",
    "@",
    "?",
    "#",
    "%",
    "%5B",
    "intl-de",
    "<",
    ">",
    " ",
    "\n",
    "\t",
    "\x00",
    "²",
    "١٢",
    "..",
    "xn--",
    "open.spotify.com:99999",
    "[::1]",
    PID,
    PID[:10],
    "si=abc",
]
link_like = st.lists(st.sampled_from(PIECES) | st.text(max_size=4), max_size=12).map("".join)
anything = st.text(max_size=600) | link_like


def assert_total(raw: str) -> PlaylistRef | None:
    """Either a well-formed reference or a PlaylistLinkError with a sentence; nothing else."""
    try:
        ref = parse_playlist_link(raw)
    except PlaylistLinkError as error:
        assert len(str(error)) > 20, repr(error)
        return None
    assert ref.provider == "spotify"
    assert len(ref.playlist_id) == 22 and ref.playlist_id.isascii() and ref.playlist_id.isalnum()
    return ref


@pytest.mark.parametrize(
    "raw",
    [
        f"https://[open.spotify.com/playlist/{PID}",
        f"https://open.spotify.com]/playlist/{PID}",
        f"https://open.spotify.com＃/playlist/{PID}",
        f"open.spotify.com＃playlist/{PID}",
        f"https://open.spotify.com／playlist/{PID}",
        f"https://user＠open.spotify.com/playlist/{PID}",
    ],
)
def test_malformed_hosts_are_refused_in_words(raw: str) -> None:
    with pytest.raises(PlaylistLinkError) as err:
        parse_playlist_link(raw)
    assert "Share > Copy link to playlist" in str(err.value)


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(anything)
@example(f"https://[open.spotify.com/playlist/{PID}")
@example(f"https://open.spotify.com＃/playlist/{PID}")
@example("²")
def test_any_text_gives_a_playlist_or_a_reason(raw: str) -> None:
    assert_total(raw)


@settings(max_examples=500, deadline=None)
@given(
    prefix=st.sampled_from(["https://open.spotify.com/", "open.spotify.com/", "spotify:"]),
    junk=st.text(max_size=20),
)
def test_a_valid_playlist_id_is_never_lost_or_changed(prefix: str, junk: str) -> None:
    separator = ":" if prefix == "spotify:" else "/"
    ref = assert_total(f"{prefix}playlist{separator}{PID}{'?' + junk if separator == '/' else ''}")
    assert ref is not None and ref.playlist_id == PID
