"""Deterministic generation of realistic catalogue tracks for the fake Spotify.

Benchmarks and demos need thousands of distinct songs whose names, artists and ISRCs look
like real ones (so matching code is exercised honestly) and that come out the same for the
same seed (so runs can be compared).
"""

from __future__ import annotations

import random

from fakes.spotify_model import ALL_MARKETS, Album, Artist, Track, stable_id

_ADJECTIVES = (
    "Silver", "Golden", "Broken", "Electric", "Quiet", "Wild", "Midnight", "Crimson", "Hollow",
    "Endless", "Paper", "Neon", "Lonely", "Burning", "Frozen", "Velvet", "Distant", "Restless",
    "Gentle", "Bitter", "Northern", "Sleepless", "Hidden", "Falling", "Summer", "Winter",
    "Little", "Blue", "Crystal", "Secret", "Shallow", "Heavy", "Fading", "Sweet", "Empty",
    "Savage", "Holy", "Lucky", "Open", "Tender",
)  # fmt: skip
_NOUNS = (
    "Heart", "River", "City", "Dream", "Fire", "Ocean", "Highway", "Garden", "Mirror", "Light",
    "Shadow", "Rain", "Window", "Echo", "Thunder", "Road", "Sky", "Harbor", "Letter", "Storm",
    "Moon", "Canyon", "Station", "Promise", "Signal", "Machine", "Island", "Horizon", "Ghost",
    "Wave", "Feather", "Engine", "Sparrow", "Lantern", "Valley", "Morning", "Satellite", "Anthem",
    "Parade", "Season",
)  # fmt: skip
_VERBS = (
    "Hold", "Call", "Take", "Follow", "Save", "Find", "Leave", "Chase", "Wake", "Carry",
    "Remember", "Forgive", "Show", "Tell", "Bring",
)  # fmt: skip
_FIRST = (
    "Ava", "Liam", "Maya", "Noah", "Elsa", "Oscar", "Nina", "Felix", "Iris", "Hugo", "Lena",
    "Jonas", "Clara", "Milo", "Ruby", "Theo", "Alma", "Leo", "Vera", "Ezra",
)  # fmt: skip
_LAST = (
    "Lindqvist", "Moreno", "Okafor", "Hart", "Novak", "Bellamy", "Sato", "Fontaine", "Kowalski",
    "Reyes", "Achterberg", "Doyle", "Marsh", "Castell", "Winter", "Quinn", "Varga", "Holm",
    "Serrano", "Blackwood",
)  # fmt: skip
_ISRC_COUNTRIES = ("US", "GB", "SE", "DE", "FR", "NL", "JP", "CA", "AU", "NO")
_UPPER_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def _title(rng: random.Random) -> str:
    template = rng.randrange(5)
    adjective, noun, other = rng.choice(_ADJECTIVES), rng.choice(_NOUNS), rng.choice(_NOUNS)
    if template == 0:
        return f"{adjective} {noun}"
    if template == 1:
        return f"The {noun} of {other}"
    if template == 2:
        return f"{rng.choice(_VERBS)} My {noun}"
    if template == 3:
        return f"{adjective} {noun} ({rng.choice(('Live', 'Acoustic', 'Remastered', 'Demo'))})"
    return f"{noun}s in the {other}"


def _artist_name(rng: random.Random) -> str:
    if rng.random() < 0.5:
        return f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"
    return f"The {rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)}s"


def _isrc(rng: random.Random) -> str:
    registrant = "".join(rng.choice(_UPPER_ALNUM) for _ in range(3))
    year, designation = rng.randrange(100), rng.randrange(100_000)
    return f"{rng.choice(_ISRC_COUNTRIES)}{registrant}{year:02d}{designation:05d}"


def _artists(rng: random.Random, count: int, seed: int) -> list[Artist]:
    names: dict[str, None] = {}
    while len(names) < count:
        names.setdefault(_artist_name(rng))
    return [Artist(stable_id("artist", str(seed), name), name) for name in names]


def _albums(rng: random.Random, artists: list[Artist], seed: int) -> list[Album]:
    albums = []
    for artist in artists:
        for _ in range(rng.randint(1, 3)):
            name = f"{rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)}s"
            year = rng.randint(1965, 2025)
            albums.append(
                Album(
                    id=stable_id("album", str(seed), artist.id, name, str(year)),
                    name=name,
                    artists=(artist,),
                    release_date=f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                    album_type=rng.choice(("album", "album", "single", "compilation")),
                    total_tracks=rng.randint(8, 16),
                )
            )
    return albums


ARTIST_POOL = 400


def generate_tracks(count: int, seed: int, *, unavailable_ratio: float = 0.0) -> list[Track]:
    """`count` tracks with unique ids, unique ISRCs and unique (title, artist) pairs.

    Track i depends only on `seed` and the tracks before it, so a smaller count gives a
    prefix of a larger one. A fraction `unavailable_ratio` of them is available in no
    market (they come back with `is_playable: false`).
    """
    pool_rng = random.Random(f"{seed}:pool")
    artists = _artists(pool_rng, ARTIST_POOL, seed)
    albums = _albums(pool_rng, artists, seed)
    seen_pairs: set[tuple[str, str]] = set()
    isrcs: set[str] = set()
    tracks: list[Track] = []
    for index in range(count):
        rng = random.Random(f"{seed}:track:{index}")
        album, title, isrc = rng.choice(albums), _title(rng), _isrc(rng)
        while (title, album.artists[0].name) in seen_pairs or isrc in isrcs:
            album, title, isrc = rng.choice(albums), _title(rng), _isrc(rng)
        seen_pairs.add((title, album.artists[0].name))
        isrcs.add(isrc)
        featured = rng.choice(artists) if rng.random() < 0.15 else album.artists[0]
        tracks.append(
            Track(
                id=stable_id("track", str(seed), str(index), isrc),
                name=title,
                artists=album.artists + tuple({featured} - set(album.artists)),
                album=album,
                duration_ms=rng.randint(120_000, 420_000),
                isrc=isrc,
                available_markets=() if rng.random() < unavailable_ratio else ALL_MARKETS,
                explicit=rng.random() < 0.1,
                popularity=rng.randint(0, 100),
                track_number=rng.randint(1, album.total_tracks),
            )
        )
    return tracks
