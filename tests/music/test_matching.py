"""The confidence bar: the right song matches, a near miss does not, in every script."""

from __future__ import annotations

import unicodedata

import pytest

from music.matching import CONFIDENCE_BAR, best_match, match_key, normalise, score
from music.models import Track


def track(
    title: str, artist: str, ms: int = 200_000, isrc: str | None = None, tid: str = "x" * 22
) -> Track:
    return Track(title, (artist,), "Album", ms, isrc, tid, f"spotify:track:{tid}")


def test_normalise_drops_decorations_and_accents() -> None:
    assert normalise("Héroes (Remastered 2017)") == "heroes"
    assert normalise("Song - 2011 Remaster") == "song"
    assert normalise("Song (feat. Someone)") == "song"
    assert normalise("Song (with Someone)") == "song"
    assert normalise("Don't Stop") == normalise("Dont Stop") == "dont stop"


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("東京フラッシュ", "東京フラッシュ"),  # Vaundy
        ("夜に駆ける", "夜に駆ける"),  # YOASOBI
        ("ｶﾞｯﾂ", "ガッツ"),  # half-width katakana, the voiced mark kept
        ("봄날", "봄날"),  # BTS
        ("좋은 날", "좋은 날"),  # IU
        ("晴天", "晴天"),  # Jay Chou
        ("告白气球", "告白气球"),
        ("Группа крови", "группа крови"),  # Кино
        ("Звезда по имени Солнце", "звезда по имени солнце"),
        ("Мой друг", "мой друг"),  # "й" is a letter of its own, not an accented "и"
        ("تملي معاك", "تملي معاك"),  # Amr Diab
        ("तुम ही हो", "तुम ही हो"),  # Arijit Singh: the vowel signs stay
        ("Bésame Mucho", "besame mucho"),
        ("Déjà Vu", "deja vu"),
        ("Mañana (Remastered 2014)", "manana"),
        ("ＴＯＫＹＯ　ＤＲＩＦＴ", "tokyo drift"),  # full-width letters and space
        ("Song (Live)", "song live"),
        ("Love Story (Taylor’s Version)", "love story taylors version"),
    ],
)
def test_normalise_keeps_every_script(title: str, expected: str) -> None:
    assert normalise(title) == expected


def test_normalise_is_the_same_for_composed_and_decomposed_text() -> None:
    for title in ("봄날", "Bésame Mucho", "ガッツ", "Мой друг"):
        assert normalise(unicodedata.normalize("NFD", title)) == normalise(title)


def test_keys_prefer_isrc() -> None:
    assert match_key("A", ("B",), 200_000, "usrc17607839") == "isrc:USRC17607839"
    assert match_key("A - 2011 Remaster", ("B",), 201_000, None) == match_key(
        "a", ["b"], 209_000, None
    )


# Two songs of one artist that look alike; each pair is two different recordings.
LOOKALIKES = [
    ("東京フラッシュ", "東京フラッシュバック", "Vaundy"),
    ("夜に駆ける", "夜に駆ける (Live)", "YOASOBI"),
    ("봄날", "봄", "BTS"),
    ("晴天", "晴天娃娃", "周杰倫"),
    ("Группа крови", "Группа", "Кино"),
    ("نور العين", "نور", "Amr Diab"),
    ("Song", "Song (Live)", "Artist"),
    ("Song", "Song - Acoustic", "Artist"),
    ("Song", "Song (Remix)", "Artist"),
    ("Love Story", "Love Story (Taylor's Version)", "Taylor Swift"),
    ("Another Brick in the Wall, Pt. 1", "Another Brick in the Wall, Pt. 2", "Pink Floyd"),
    ("Tokyo Flash", "Tokyo Flashback", "Artist"),
    ("Bohemian Rhapsody", "Bohemian Rhapsody - Live Aid", "Queen"),
    ("?", "!", "Artist"),
]


@pytest.mark.parametrize(("first", "second", "artist"), LOOKALIKES)
def test_two_songs_that_look_alike_get_two_keys(first: str, second: str, artist: str) -> None:
    assert match_key(first, (artist,), 200_000, None) != match_key(second, (artist,), 200_000, None)


@pytest.mark.parametrize(("first", "second", "artist"), LOOKALIKES)
def test_two_songs_that_look_alike_never_match(first: str, second: str, artist: str) -> None:
    a, b = track(first, artist), track(second, artist)
    assert score(a, b) < CONFIDENCE_BAR and score(b, a) < CONFIDENCE_BAR
    assert best_match(a, [b]) is None and best_match(b, [a]) is None


def test_a_key_is_never_built_from_an_empty_title() -> None:
    assert match_key("?", ("!!!",), 200_000, None) == "meta2:!!!|?|20"
    tokyo = match_key("東京フラッシュ", ("Vaundy",), 200_000, None)
    assert tokyo == "meta2:vaundy|東京フラッシュ|20"


@pytest.mark.parametrize(
    ("wanted", "found", "artist"),
    [
        ("東京フラッシュ", "東京フラッシュ", "Vaundy"),
        ("ｶﾞｯﾂ", "ガッツ", "Artist"),
        ("봄날", unicodedata.normalize("NFD", "봄날"), "방탄소년단"),
        ("Группа крови", "Группа Крови - Remastered 2019", "Кино"),
        ("Déjà Vu", "Deja Vu", "Beyoncé"),
        ("Don't Stop Me Now", "Don’t Stop Me Now - Remastered 2011", "Queen"),
        ("Heroes", "Heroes (feat. Someone)", "David Bowie"),
    ],
)
def test_the_same_song_written_differently_matches(wanted: str, found: str, artist: str) -> None:
    candidate = track(found, artist, 201_000)
    assert best_match(track(wanted, artist), [candidate]) == (candidate, 1.0)


def test_the_artist_is_compared_in_its_own_script() -> None:
    wanted = track("晴天", "周杰倫")
    assert best_match(wanted, [track("晴天", "王力宏")]) is None
    assert best_match(track("Группа крови", "Кино"), [track("Группа крови", "Кина")]) is None


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


def test_an_equal_isrc_is_certain_whatever_the_title() -> None:
    wanted = track("夜に駆ける", "YOASOBI", isrc="JPP301900327")
    found = track("Yoru ni Kakeru", "YOASOBI", isrc="jpp301900327")
    assert best_match(wanted, [found]) == (found, 1.0)
