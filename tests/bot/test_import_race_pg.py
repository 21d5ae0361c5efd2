"""Two `/import` clicks at the same instant on PostgreSQL (the compose deployment's database):
one import, one "Importing…", and a clear "already importing" for the other click.

SQLite serialises every write transaction, so only PostgreSQL shows the race: both clicks
pass the check before the insert, and only the database's partial unique index stops the
second. Runs through the real command tree and the real engine, 20 times.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from pydantic import SecretStr

from bot.services import BotServices
from fakes.discord_api import FakeDiscord
from fakes.interactions import FakeUser, InteractionDriver, InteractionHandle
from fakes.spotify import FakeSpotify
from mixtape.settings import Settings
from storage.crypto import generate_key
from tests.bot.support import Member, add_entry, embed_text, import_rows, link_directly, pick
from tests.bot.test_share import done_thinking, original_text
from tests.storage.conftest import _asyncpg_dsn, pg_admin_url

pytestmark = [pytest.mark.engine, pytest.mark.postgres]

ROUNDS = 20
DEFERRED = 5  # DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE


@pytest.fixture
async def pg_url(stack_env: dict[str, str]) -> AsyncIterator[str]:
    """A fresh PostgreSQL database on the test cluster, dropped afterwards."""
    admin = pg_admin_url()
    assert admin is not None
    name = f"mixtape_race_{uuid.uuid4().hex[:12]}"
    connection = await asyncpg.connect(_asyncpg_dsn(admin))
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    try:
        yield admin.set(drivername="postgresql+asyncpg", database=name).render_as_string(
            hide_password=False)
    finally:
        connection = await asyncpg.connect(_asyncpg_dsn(admin))
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await connection.close()


@pytest.fixture
def settings(tmp_path: Path, fake_spotify: FakeSpotify, fake_discord: FakeDiscord,
             pg_url: str) -> Settings:
    """The bot tests' settings, on PostgreSQL."""
    app = fake_spotify.default_app
    [redirect] = app.redirect_uris
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=pg_url,
        discord_token=SecretStr(fake_discord.token),
        spotify_client_id=app.client_id,
        spotify_client_secret=SecretStr(app.client_secret),
        spotify_redirect_uri=redirect,
        spotify_api_base=fake_spotify.api_base,
        spotify_accounts_base=fake_spotify.accounts_base,
        token_encryption_keys=SecretStr(generate_key()),
        oauth_bind_host="127.0.0.1",
        oauth_bind_port=int(redirect.split(":")[2].split("/")[0]),
        http_timeout_seconds=5.0,
    )


async def test_two_clicks_at_once_make_one_import_every_time(
    driver: InteractionDriver, fake_discord: FakeDiscord, fake_spotify: FakeSpotify,
    services: BotServices, guild_id: int, channel_id: int, alice: Member,
) -> None:
    entry = await add_entry(services, guild_id, alice.id, "Raced", tracks=3)
    for round_ in range(ROUNDS):
        fake_spotify.add_user(f"racer{round_}")
        member = Member(FakeUser(alice.id + 1 + round_, f"m{round_}"), f"racer{round_}")
        await link_directly(services, fake_spotify, member)
        clicks = [await driver.slash("import", {"playlist": pick(entry)}, user=member.user)
                  for _ in range(2)]

        answers = await asyncio.gather(*(_answer(h) for h in clicks))

        started = [a for a in answers if a.startswith("Importing ")]
        refused = [a for a in answers if "already importing" in a]
        assert (len(started), len(refused)) == (1, 1), (round_, answers)
        rows = [r for r in await import_rows(services) if r.discord_user_id == member.id]
        assert len(rows) == 1, round_
    public = fake_discord.messages(channel_id, include_ephemeral=False)
    assert len(public) == ROUNDS  # one progress message per round, never two


async def _answer(handle: InteractionHandle) -> str:
    """What the click ends with: the deferred reply's final text, or an immediate answer."""
    reply = await handle.response()
    if reply.type == DEFERRED:
        return original_text(await handle.original(until=done_thinking))
    return "\n".join([reply.content or "", embed_text(reply.embeds)])
