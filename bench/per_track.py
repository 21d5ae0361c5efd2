"""The per-track durable design Mixtape improves on: `python -m bench.per_track` serves it.

It is what a durable importer usually looks like: a durable parent that runs one child task
per track, in order; each child finds its track (a search, unless the URI is known) and adds
that single track. Hatchet retries a failed child 5 times (1 s initial backoff, x2, capped
at 60 s), and a 429 costs a fixed blocking sleep (30 s, scaled) before the retry. A child
that fails all its attempts loses its track; a child retried after a crash adds again,
because nothing remembers whether its add landed.
"""

from __future__ import annotations

import logging
import os
import time
from datetime import timedelta
from typing import Any

import requests
import spotipy
from hatchet_sdk import Context, DurableContext, Hatchet
from pydantic import BaseModel

from music.spotify import add_items
from workflows.client import create_hatchet
from workflows.rate_limits import StepOptions

log = logging.getLogger(__name__)

PER_TRACK_IMPORT = "per-track-import"
SLEEP_ON_429_SECONDS = 30.0
HTTP_TIMEOUT_SECONDS = 10.0


class Target(BaseModel):
    """Who imports, where Spotify is, and how the 429 sleep is scaled."""

    access_token: str
    api_base: str
    sleep_on_429: float = SLEEP_ON_429_SECONDS


class PerTrackInput(Target):
    name: str
    uris: list[str] = []
    queries: list[str] = []  # used when `uris` is empty: one search per track


class CreateInput(Target):
    name: str


class TrackInput(Target):
    playlist_id: str
    uri: str = ""
    query: str = ""


class PerTrackOutput(BaseModel):
    playlist_id: str
    added: int
    lost: int


def client(target: Target) -> spotipy.Spotify:
    """spotipy without its own retries: Hatchet's retry policy is the only one."""
    sp = spotipy.Spotify(
        auth=target.access_token,
        requests_session=requests.Session(),
        requests_timeout=HTTP_TIMEOUT_SECONDS,
        retries=0,
        status_retries=0,
    )
    sp.prefix = target.api_base
    return sp


def _call(target: Target, op: Any) -> Any:
    """One call; a 429 blocks the slot for the fixed sleep, then fails the attempt."""
    try:
        return op(client(target))
    except spotipy.SpotifyException as exc:
        if exc.http_status == 429:
            time.sleep(target.sleep_on_429)
        raise


def build(hatchet: Hatchet) -> list[Any]:
    retry = StepOptions(
        retries=4,
        backoff_factor=2.0,
        backoff_max_seconds=60,
        execution_timeout=timedelta(minutes=5),
        rate_limits=[],
    )

    @hatchet.task(name="per-track-create", input_validator=CreateInput, **retry)
    def create(input: CreateInput, ctx: Context) -> dict[str, str]:
        made = _call(input, lambda sp: sp.current_user_playlist_create(input.name, public=False))
        return {"playlist_id": str(made["id"])}

    @hatchet.task(name="per-track-add", input_validator=TrackInput, **retry)
    def add_track(input: TrackInput, ctx: Context) -> dict[str, bool]:
        uri = input.uri
        if not uri:
            found = _call(input, lambda sp: sp.search(input.query, limit=1, type="track"))
            items = (found.get("tracks") or {}).get("items") or []
            if not items:
                return {"added": False}
            uri = str(items[0]["uri"])
        _call(input, lambda sp: add_items(sp, input.playlist_id, [uri]))
        return {"added": True}

    @hatchet.durable_task(
        name=PER_TRACK_IMPORT,
        input_validator=PerTrackInput,
        execution_timeout=timedelta(hours=4),
        retries=0,
    )
    async def per_track_import(input: PerTrackInput, ctx: DurableContext) -> PerTrackOutput:
        target = Target(**input.model_dump(include={"access_token", "api_base", "sleep_on_429"}))
        made = await create.aio_run(
            CreateInput(**target.model_dump(), name=input.name), child_key="create"
        )
        playlist_id = str(made["playlist_id"])
        added = lost = 0
        items = input.uris or input.queries
        for i, item in enumerate(items):
            track = TrackInput(
                **target.model_dump(),
                playlist_id=playlist_id,
                uri=item if input.uris else "",
                query="" if input.uris else item,
            )
            try:
                await add_track.aio_run(track, child_key=f"track-{i}")
                added += 1
            except Exception:  # all five attempts failed: the design moves on without it
                log.exception("track %d lost", i)
                lost += 1
        return PerTrackOutput(playlist_id=playlist_id, added=added, lost=lost)

    return [create, add_track, per_track_import]


def main() -> None:
    logging.basicConfig(
        level=os.environ.get("LOG_LEVEL", "INFO"),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    hatchet = create_hatchet()
    slots = int(os.environ.get("WORKER_SLOTS", "20"))
    worker = hatchet.worker(
        "per-track-worker", slots=slots, durable_slots=slots, workflows=build(hatchet)
    )
    worker.start()


if __name__ == "__main__":
    main()
