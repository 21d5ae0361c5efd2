"""The plain transfer script, as common tools write it: `python -m bench.plain_script JOB.json`.

A sequential loop with spotipy's defaults (its own retries honour Retry-After): find the
playlist by name or create it, look each track up when only a query is known, then add
everything in batches of 100. It keeps no record of what it did, so after a crash it starts
over and adds the first tracks again.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import spotipy

from music.spotify import add_items

BATCH = 100
HTTP_TIMEOUT_SECONDS = 10.0


def find_or_create(sp: spotipy.Spotify, name: str) -> str:
    page: dict[str, Any] | None = sp.current_user_playlists(limit=50)
    while page:
        for playlist in page.get("items") or []:
            if playlist.get("name") == name:
                return str(playlist["id"])
        page = sp.next(page) if page.get("next") else None
    return str(sp.current_user_playlist_create(name, public=False)["id"])


def run(job: dict[str, Any]) -> None:
    sp = spotipy.Spotify(auth=job["access_token"], requests_timeout=HTTP_TIMEOUT_SECONDS)
    sp.prefix = job["api_base"]
    playlist_id = find_or_create(sp, job["name"])
    uris: list[str] = list(job.get("uris") or [])
    for query in job.get("queries") or []:
        items = (sp.search(query, limit=1, type="track").get("tracks") or {}).get("items")
        if items:
            uris.append(str(items[0]["uri"]))
    for start in range(0, len(uris), BATCH):
        add_items(sp, playlist_id, uris[start : start + BATCH])


def main() -> int:
    job = json.loads(Path(sys.argv[1]).read_text())
    try:
        run(job)
        return 0
    except spotipy.SpotifyException as exc:
        print(f"gave up: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
