"""Secrets never reach a log, at any level: the real bot and worker at LOG_LEVEL=DEBUG.

Both run as `python -m bot` and `python -m workflows` (the processes of the offline demo)
against the fake Discord gateway and fake Spotify. A member links Spotify in a browser and
shares a playlist after her access token expired, so the worker refreshes it: the paths
where spotipy logs the client secret, codes and tokens and discord.py logs interaction
tokens. Then no secret of any kind may appear in either log or in any database row.
"""

from __future__ import annotations

import base64
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from devtools.offline import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, SHARER, OfflineWorld
from devtools.run import Crew
from devtools.stack import free_port
from fakes.browser import Browser
from fakes.interactions import FakeUser, InteractionDriver
from tests.waiting import async_wait_until

pytestmark = pytest.mark.engine

ADA = FakeUser(10**17 + 7, "ada")


async def until(probe: Callable[[], object], within: float, what: str) -> None:
    await async_wait_until(
        probe, timeout=within, interval=0.2, message=f"timed out waiting for {what}"
    )


def shared(database: Path) -> bool:
    with sqlite3.connect(database) as db:
        return bool(db.execute("SELECT 1 FROM catalog_playlists WHERE status = 'ready'").fetchall())


def database_text(database: Path) -> str:
    """Every value of every row of every table, as text."""
    parts: list[str] = []
    with sqlite3.connect(database) as db:
        tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            for row in db.execute(f'SELECT * FROM "{table}"'):  # noqa: S608 - our own tables
                parts += [v.decode("latin-1") if isinstance(v, bytes) else str(v) for v in row]
    return "\n".join(parts)


async def test_no_secret_in_any_log_or_row_at_debug(
    stack_env: dict[str, str], tmp_path: Path
) -> None:
    with OfflineWorld(tmp_path, oauth_port=free_port()) as world:
        env = {**os.environ, **stack_env, **world.env(), "LOG_LEVEL": "DEBUG"}
        crew = Crew.start(env, tmp_path)
        tokens: list[str] = []
        try:
            world.wait_until_up(children_alive=crew.alive, timeout=120)
            with InteractionDriver.over_gateway(world.discord, user=ADA) as driver:
                link = await driver.slash("link")
                tokens.append(link.token)
                reply = await link.response(within=15)
                [url] = [b["url"] for row in reply.data["components"] for b in row["components"]]
                async with Browser() as browser:
                    ours = await browser.open(url)
                    pressed = await browser.submit(ours)
                    verifier = next(
                        v for k, v in browser.cookies(url).items() if k.startswith("mixtape_link_")
                    )
                    back = await browser.open(world.spotify.consent_url(pressed.location, SHARER))
                    page = await browser.follow(back)
                assert page.status == 200 and "Linked as" in page.text

                world.spotify.expire_tokens(SHARER)  # the worker must refresh before reading
                assert world.source is not None
                share = await driver.slash(
                    "share", {"url": f"https://open.spotify.com/playlist/{world.source.id}"}
                )
                tokens.append(share.token)
                await until(lambda: shared(tmp_path / "mixtape.db"), 90, "the share to finish")
        finally:
            for child in crew.children:
                child.stop()
        state = parse_qs(urlsplit(url).query)["state"][0]
        basic = base64.b64encode(f"{DEMO_CLIENT_ID}:{DEMO_CLIENT_SECRET}".encode()).decode()
        secrets = {
            "client secret": DEMO_CLIENT_SECRET,
            "Basic header": basic,
            "bot token": world.discord.token,
            "encryption key": env["TOKEN_ENCRYPTION_KEYS"],
            "Hatchet token": env["HATCHET_CLIENT_TOKEN"],
            "state": state,
            "PKCE verifier": verifier,
            **{f"interaction token {i}": t for i, t in enumerate(tokens)},
            **{f"access token {i}": t for i, t in enumerate(world.spotify.access_tokens)},
            **{f"refresh token {i}": t for i, t in enumerate(world.spotify.refresh_tokens)},
            **{f"code {i}": c for i, c in enumerate(world.spotify.codes)},
        }
        refreshes = [c for c in world.spotify.calls if c.route == "POST /api/token"]

    logs = {name: (tmp_path / f"{name}.log").read_text() for name in ("bot", "worker")}
    rows = database_text(tmp_path / "mixtape.db")
    assert len(refreshes) >= 2  # the code exchange and the worker's refresh
    assert " DEBUG " in logs["bot"] and " DEBUG " in logs["worker"]
    leaks = [
        f"{what} in {where}"
        for what, value in secrets.items()
        for where, text in (*logs.items(), ("the database", rows))
        if value in text
    ]
    assert leaks == [], leaks
