"""The confidence bar: the right song matches, a near miss does not."""

from __future__ import annotations

from music.matching import best_match, match_key, normalise, score
from music.models import Track


def track(title: str, artist: str, ms: int = 200_000, isrc: str | None = None,
          tid: str = "x" * 22) -> Track:
    return Track(title, (artist,), "Album", ms, isrc, tid, f"spotify:track:{tid}")


def test_normalise_drops_decorations_and_accents() -> None:
    assert normalise("Héroes (Remastered 2017)") == "heroes"
    assert normalise("Song - 2011 Remaster") == "song"
    assert normalise("Don't Stop") == "don t stop"


def test_keys_prefer_isrc() -> None:
    assert match_key("A", ("B",), 200_000, "usrc17607839") == "isrc:USRC17607839"
    assert match_key("A (Live)", ("B",), 201_000, None) == match_key("a", ["b"], 209_000, None)


def test_same_song_other_edition_matches() -> None:
    wanted = track("Heroes", "David Bowie", 371_000)
    found = track("Heroes - 2017 Remaster", "David Bowie", 372_000)
    assert score(wanted, found) >= 0.85
    expected = (found, score(wanted, found))
    assert best_match(wanted, [track("Heroes", "Someone Else"), found]) == expected


def test_a_different_song_is_not_found() -> None:
    wanted = track("Heroes", "David Bowie", 371_000)
    assert best_match(wanted, [track("Heroes", "Some Cover Band", 371_000)]) is None
    assert best_match(wanted, [track("Heroes", "David Bowie", 200_000)]) is None  # duration
    assert best_match(wanted, []) is None
