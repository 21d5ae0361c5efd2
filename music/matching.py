"""Is this search result the song we want? Pure functions, so they are tested by the table.

A wrong song in someone's playlist is worse than a missing one: below the confidence bar
a track is "not found". Titles in every script are compared as written (NFKC, case folded,
accents dropped from Latin letters only); a title that differs in a version word ("Live",
"Remix") or a number ("Pt. 2") is another recording, however alike the rest looks.
"""

from __future__ import annotations

import re
import unicodedata

from rapidfuzz.distance import Levenshtein

from music.models import Track

CONFIDENCE_BAR = 0.85
DURATION_TOLERANCE_MS = 7_000
#: Words that name another recording of a song: a title with one never matches one without.
VERSION_WORDS = frozenset(
    {
        "acapella",
        "acoustic",
        "cover",
        "demo",
        "edit",
        "extended",
        "instrumental",
        "karaoke",
        "live",
        "medley",
        "mix",
        "nightcore",
        "orchestral",
        "piano",
        "radio",
        "remix",
        "remixed",
        "reprise",
        "session",
        "sessions",
        "slowed",
        "sped",
        "unplugged",
        "ver",
        "version",
    }
)
#: Words of a decoration that leave the recording as it is ("2011 Remaster", "Mono").
_SAME_RECORDING_WORDS = frozenset({"remaster", "remastered", "mono", "stereo"})
_CREDIT = re.compile(r"^\s*[(\[]\s*(feat|ft|featuring|with)\b")  # "(feat. X)", "(with X)"
_DECORATION = re.compile(r"\s*[(\[][^()\[\]]*[)\]]|\s+[-–—]\s+.*$")
_APOSTROPHES = re.compile(r"['’ʼ`]")
_WORD = re.compile(r"\w+")
_NUMBER = re.compile(r"\d+")


def normalise(text: str) -> str:
    """Letters and digits of every script, NFKC and case folded, without Latin accents or
    decorations that keep the recording ("(Remastered 2011)", "(feat. X)"), single spaces.

    Empty only when the text holds no letter or digit at all (a title like "?").
    """
    folded = unicodedata.normalize("NFKC", text).casefold()
    kept = _DECORATION.sub(_drop_same_recording, folded)
    return " ".join(_letters_and_digits(_strip_latin_accents(_APOSTROPHES.sub("", kept))))


def match_key(
    title: str, artists: tuple[str, ...] | list[str], duration_ms: int, isrc: str | None
) -> str:
    """The match cache's key: the ISRC when known, else artist, title and a duration bucket.

    `meta2` retires keys of the earlier normaliser, which erased non-Latin titles and "Live",
    so rows cached under them may hold another song's URI.
    """
    if isrc:
        return f"isrc:{isrc.upper()}"
    first = _comparable(artists[0]) if artists else ""
    return f"meta2:{first}|{_comparable(title)}|{duration_ms // 10_000}"


def title_similarity(wanted: str, found: str) -> float:
    """0..1 edit similarity; 0 when the titles differ in a version word or a number."""
    a, b = _comparable(wanted), _comparable(found)
    if _version_words(a) != _version_words(b) or _numbers(a) != _numbers(b):
        return 0.0
    return Levenshtein.normalized_similarity(a, b)


def artist_similarity(wanted: tuple[str, ...], found: tuple[str, ...]) -> float:
    """1 when the tracks share an artist, else the closest pair's edit similarity."""
    a, b = {_comparable(x) for x in wanted}, {_comparable(x) for x in found}
    if a & b:
        return 1.0
    return max((Levenshtein.normalized_similarity(x, y) for x in a for y in b), default=0.0)


def score(wanted: Track, candidate: Track) -> float:
    """0..1 confidence that `candidate` is `wanted`: the weaker of title and artist, since
    both must match; an equal ISRC is certain and durations far apart score 0."""
    if wanted.isrc and candidate.isrc and wanted.isrc.upper() == candidate.isrc.upper():
        return 1.0
    gap = abs(wanted.duration_ms - candidate.duration_ms)
    if wanted.duration_ms and gap > DURATION_TOLERANCE_MS:
        return 0.0
    title = title_similarity(wanted.title, candidate.title)
    artist = artist_similarity(wanted.artists, candidate.artists)
    return round(min(title, artist), 4)


def best_match(wanted: Track, candidates: list[Track]) -> tuple[Track, float] | None:
    """The best candidate at or above the confidence bar, or None."""
    scored = sorted(((score(wanted, c), c) for c in candidates), key=lambda p: -p[0])
    if scored and scored[0][0] >= CONFIDENCE_BAR:
        return scored[0][1], scored[0][0]
    return None


def _comparable(text: str) -> str:
    """The normalised text, or the folded text itself when normalising leaves nothing, so
    "?" and "!" stay two titles."""
    return normalise(text) or " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def _drop_same_recording(decoration: re.Match[str]) -> str:
    """Drop a bracket or " - " suffix that credits or remasters, unless it names a version."""
    words = set(_WORD.findall(decoration.group()))
    if words & VERSION_WORDS:
        return decoration.group()
    if words & _SAME_RECORDING_WORDS or _CREDIT.match(decoration.group()):
        return ""
    return decoration.group()


def _strip_latin_accents(text: str) -> str:
    """ "é" becomes "e", while marks that make other letters ("ガ", "й", "ि") stay."""
    kept: list[str] = []
    latin = False
    for char in unicodedata.normalize("NFD", text):
        if unicodedata.combining(char):
            if latin:
                continue
        else:
            latin = unicodedata.name(char, "").startswith("LATIN ")
        kept.append(char)
    return unicodedata.normalize("NFC", "".join(kept))


def _letters_and_digits(text: str) -> list[str]:
    """Runs of letters, marks and digits of any script; everything else separates words."""
    words: list[str] = []
    current: list[str] = []
    for char in text:
        if unicodedata.category(char)[0] in "LMN":
            current.append(char)
        elif current:
            words.append("".join(current))
            current = []
    if current:
        words.append("".join(current))
    return words


def _version_words(text: str) -> frozenset[str]:
    return frozenset(text.split()) & VERSION_WORDS


def _numbers(text: str) -> tuple[int, ...]:
    return tuple(int(n) for n in _NUMBER.findall(text))
