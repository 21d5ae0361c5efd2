"""Is this search result the song we want? Pure functions, so they are tested by the table.

A wrong song in someone's playlist is worse than a missing one: below the confidence bar
a track is "not found".
"""

from __future__ import annotations

import re
import unicodedata
from difflib import SequenceMatcher

from music.models import Track

CONFIDENCE_BAR = 0.85
DURATION_TOLERANCE_MS = 7_000
_DECORATIONS = re.compile(
    r"\s*[\(\[][^\)\]]*(remaster|live|version|edit|mix|mono|stereo|feat|ft\.|with )[^\)\]]*[\)\]]"
    r"|\s+-\s+.*(remaster|version|edit|live|mix).*$",
    re.IGNORECASE,
)
_NON_WORD = re.compile(r"[^\w]+")


def normalise(text: str) -> str:
    """Lower case, no accents, no "(Remastered 2011)" style decorations, single spaces."""
    stripped = _DECORATIONS.sub("", text)
    folded = unicodedata.normalize("NFKD", stripped).encode("ascii", "ignore").decode()
    return _NON_WORD.sub(" ", folded.casefold()).strip()


def match_key(title: str, artists: tuple[str, ...] | list[str], duration_ms: int,
              isrc: str | None) -> str:
    """The match cache's key: the ISRC when known, else artist, title and a duration bucket."""
    if isrc:
        return f"isrc:{isrc.upper()}"
    first = normalise(artists[0]) if artists else ""
    return f"meta:{first}|{normalise(title)}|{duration_ms // 10_000}"


def score(wanted: Track, candidate: Track) -> float:
    """0..1 confidence that `candidate` is `wanted`; durations far apart score 0."""
    if wanted.isrc and candidate.isrc and wanted.isrc.upper() == candidate.isrc.upper():
        return 1.0
    gap = abs(wanted.duration_ms - candidate.duration_ms)
    if wanted.duration_ms and gap > DURATION_TOLERANCE_MS:
        return 0.0
    title = SequenceMatcher(None, normalise(wanted.title), normalise(candidate.title)).ratio()
    wanted_artists = {normalise(a) for a in wanted.artists}
    found_artists = {normalise(a) for a in candidate.artists}
    artist = 1.0 if wanted_artists & found_artists else max(
        (SequenceMatcher(None, a, b).ratio() for a in wanted_artists for b in found_artists),
        default=0.0,
    )
    return round(0.6 * title + 0.4 * artist, 4)


def best_match(wanted: Track, candidates: list[Track]) -> tuple[Track, float] | None:
    """The best candidate at or above the confidence bar, or None."""
    scored = sorted(((score(wanted, c), c) for c in candidates), key=lambda p: -p[0])
    if scored and scored[0][0] >= CONFIDENCE_BAR:
        return scored[0][1], scored[0][0]
    return None
