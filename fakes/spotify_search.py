"""Track search of the fake Spotify: the `q` syntax of the search endpoint, simplified.

Supported: free words, `track:`, `artist:`, `album:`, `isrc:` and `year:` (single year or
range) filters, with quoted values. A word matches by prefix of a word in the field, case
and punctuation ignored, which is close enough to Spotify for matching code to be
exercised. Filters the spec reserves for other types (`upc`, `tag:new`, ...) and `genre`
are ignored. An inverted index keeps searches over large benchmark catalogues cheap.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field

from fakes.spotify_model import Track

_TOKEN = re.compile(r'(?:([A-Za-z]+):)?(?:"([^"]*)"|(\S+))')
_NON_WORD = re.compile(r"[^\w]+")
_FILTERS = ("track", "artist", "album", "isrc", "year")
_TEXT_FIELDS = ("track", "artist", "album")


@dataclass
class Query:
    free: list[str] = field(default_factory=list)
    filters: dict[str, list[str]] = field(default_factory=dict)


def words(text: str) -> list[str]:
    """Lower-cased words of `text`."""
    return [w for w in _NON_WORD.sub(" ", text.casefold()).split() if w]


def parse(q: str) -> Query:
    """Split `q` into free words and per-field filter values."""
    query = Query()
    for match in _TOKEN.finditer(q):
        name, quoted, bare = match.group(1), match.group(2), match.group(3)
        value = quoted if quoted is not None else bare
        if name is None:
            query.free.extend(words(value))
        elif name.casefold() in _FILTERS:
            query.filters.setdefault(name.casefold(), []).append(value)
        elif name.casefold() not in ("upc", "tag", "genre"):
            query.free.extend(words(f"{name} {value}"))  # "word:word" typed as free text
    return query


def _year_ok(spec: str, release_date: str) -> bool:
    low, _, high = spec.partition("-")
    try:
        year = int(release_date[:4])
        return int(low) <= year <= int(high or low)
    except ValueError:
        return False


class SearchIndex:
    """Word -> track ids per field (and for all fields), plus ISRC -> id."""

    def __init__(self) -> None:
        self._postings: dict[str, defaultdict[str, set[str]]] = {
            f: defaultdict(set) for f in (*_TEXT_FIELDS, "any")
        }
        self._vocabulary: dict[str, list[str]] = {}  # sorted words, rebuilt when stale
        self._isrc: dict[str, str] = {}
        self._order: dict[str, int] = {}

    def add(self, track: Track) -> None:
        texts = {
            "track": track.name,
            "artist": " ".join(a.name for a in track.artists),
            "album": track.album.name,
        }
        for name, text in texts.items():
            for word in words(text):
                self._postings[name][word].add(track.id)
                self._postings["any"][word].add(track.id)
        self._isrc[track.isrc] = track.id
        self._order[track.id] = len(self._order)
        self._vocabulary.clear()

    def _prefixed(self, name: str, needle: str) -> set[str]:
        vocabulary = self._vocabulary.get(name)
        if vocabulary is None:
            vocabulary = self._vocabulary[name] = sorted(self._postings[name])
        found: set[str] = set()
        for word in vocabulary[bisect_left(vocabulary, needle) :]:
            if not word.startswith(needle):
                break
            found |= self._postings[name][word]
        return found

    def _candidates(self, query: Query) -> set[str] | None:
        """Ids passing every word and ISRC condition; None when nothing narrowed them."""
        sets: list[set[str]] = [
            {self._isrc[v.upper()]} if v.upper() in self._isrc else set()
            for v in query.filters.get("isrc", [])
        ]
        for name in _TEXT_FIELDS:
            for value in query.filters.get(name, []):
                sets += [self._prefixed(name, needle) for needle in words(value)]
        sets += [self._prefixed("any", needle) for needle in query.free]
        return set.intersection(*sets) if sets else None

    def search(self, tracks: Mapping[str, Track], q: str, market: str | None) -> list[Track]:
        """Matching tracks in catalogue order; with a market, only those playable there."""
        query = parse(q)
        ids = self._candidates(query)
        if ids is None and "year" not in query.filters:
            return []  # nothing to search for
        found = (tracks[i] for i in (tracks if ids is None else ids))
        kept = [
            t
            for t in found
            if all(_year_ok(v, t.album.release_date) for v in query.filters.get("year", []))
            and (market is None or t.playable_in(market))
        ]
        return sorted(kept, key=lambda t: self._order[t.id])
