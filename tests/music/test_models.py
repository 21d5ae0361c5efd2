"""What we keep of a playlist page: songs in order, the rest counted by reason."""

from __future__ import annotations

from typing import Any

from music.models import SKIP_EPISODE, SKIP_LOCAL, SKIP_UNAVAILABLE, parse_items_page


def song(tid: str, markets: list[str] | None) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": tid,
        "type": "track",
        "name": f"Song {tid}",
        "uri": f"spotify:track:{tid}",
        "artists": [{"name": "A"}],
        "album": {"name": "B"},
        "duration_ms": 1000,
        "external_ids": {"isrc": "USRC17607839"},
    }
    if markets is not None:
        item["available_markets"] = markets
    return {"is_local": False, "item": item}


def test_page_keeps_songs_and_their_markets_and_counts_the_rest() -> None:
    page = parse_items_page(
        {
            "offset": 100,
            "total": 106,
            "next": None,
            "items": [
                song("a", ["SE", "US"]),
                {"is_local": True, "item": {"name": "Demo", "uri": "spotify:local:x"}},
                {"is_local": False, "item": {"id": "e", "type": "episode"}},
                {"is_local": False, "item": None},
                song("b", []),  # plays nowhere
                song("c", None),  # market not known
            ],
        }
    )
    assert [(pos, t.provider_id, t.markets) for pos, t in page.tracks] == [
        (100, "a", ("SE", "US")),
        (105, "c", None),
    ]
    assert page.skipped == {SKIP_LOCAL: 1, SKIP_EPISODE: 1, SKIP_UNAVAILABLE: 2}
    assert page.has_next is False
