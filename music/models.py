"""What we keep of Spotify's JSON, parsed in one place so the rest of the code is typed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SKIP_LOCAL = "local file"
SKIP_EPISODE = "podcast episode"
SKIP_UNAVAILABLE = "unavailable"


@dataclass(frozen=True)
class Track:
    """A playable song as the catalog stores it."""

    title: str
    artists: tuple[str, ...]
    album: str
    duration_ms: int
    isrc: str | None
    provider_id: str
    uri: str
    markets: tuple[str, ...] | None = None  # where it plays; None when Spotify did not say


@dataclass(frozen=True)
class PlaylistMeta:
    """A playlist's header: enough to describe it and to know how many items to read."""

    playlist_id: str
    name: str
    description: str
    owner_id: str
    owner_name: str
    snapshot_id: str
    total: int
    url: str
    collaborative: bool


@dataclass
class ItemsPage:
    """One page of playlist entries: the tracks kept, in order, and why others were skipped."""

    offset: int
    total: int
    tracks: list[tuple[int, Track]] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)
    has_next: bool = False


def parse_playlist(data: dict[str, Any]) -> PlaylistMeta:
    owner = data.get("owner") or {}
    items = data.get("items") or data.get("tracks") or {}
    return PlaylistMeta(
        playlist_id=str(data["id"]),
        name=str(data.get("name") or ""),
        description=str(data.get("description") or ""),
        owner_id=str(owner.get("id") or ""),
        owner_name=str(owner.get("display_name") or owner.get("id") or ""),
        snapshot_id=str(data.get("snapshot_id") or ""),
        total=int(items.get("total") or 0),
        url=str((data.get("external_urls") or {}).get("spotify") or ""),
        collaborative=bool(data.get("collaborative")),
    )


def parse_items_page(data: dict[str, Any]) -> ItemsPage:
    """Keep songs, count the rest by reason; positions are the entries' places in the playlist."""
    offset = int(data.get("offset") or 0)
    page = ItemsPage(
        offset=offset, total=int(data.get("total") or 0), has_next=bool(data.get("next"))
    )
    for index, entry in enumerate(data.get("items") or []):
        position = offset + index
        reason, track = _entry_track(entry)
        if track is None:
            page.skipped[reason] = page.skipped.get(reason, 0) + 1
        else:
            page.tracks.append((position, track))
    return page


def _entry_track(entry: dict[str, Any]) -> tuple[str, Track | None]:
    if entry.get("is_local"):
        return SKIP_LOCAL, None
    item = entry.get("item") or entry.get("track")
    if not item:
        return SKIP_UNAVAILABLE, None
    if item.get("type") == "episode" or item.get("episode") is True:
        return SKIP_EPISODE, None
    if item.get("is_local"):
        return SKIP_LOCAL, None
    if not item.get("id") or item.get("is_playable") is False:
        return SKIP_UNAVAILABLE, None
    if item.get("available_markets") == []:  # plays nowhere
        return SKIP_UNAVAILABLE, None
    return "", parse_track(item)


def parse_track(item: dict[str, Any]) -> Track:
    return Track(
        title=str(item.get("name") or ""),
        artists=tuple(str(a.get("name") or "") for a in item.get("artists") or []),
        album=str((item.get("album") or {}).get("name") or ""),
        duration_ms=int(item.get("duration_ms") or 0),
        isrc=((item.get("external_ids") or {}).get("isrc") or None),
        provider_id=str(item["id"]),
        uri=str(item.get("uri") or f"spotify:track:{item['id']}"),
        markets=(
            tuple(str(m) for m in item["available_markets"])
            if isinstance(item.get("available_markets"), list)
            else None
        ),
    )
