"""The bot under test: the real discord.py tree against FakeDiscord, a real SQLite database,
FakeSpotify behind the real adapter, and a real WorkflowDispatcher on the real engine.

Every test gets its own guild id, so the runs it dispatched can be told apart by their
`guild_id` metadata. The dispatcher uses a Hatchet namespace of its own in which the
`share-playlist` and `import-playlist` workflows are registered from their contracts (name
and input only, no worker): the engine then accepts and queues runs, which is all the bot
does, and no worker of another test can pick them up.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from hatchet_sdk import Context, Hatchet
from pydantic import SecretStr

from bot.client import MixtapeBot
from bot.services import BotServices, open_services
from devtools.stack import free_port
from fakes.discord_api import FakeDiscord
from fakes.interactions import FakeUser, InteractionDriver, logged_in
from fakes.spotify import FakeSpotify
from mixtape.settings import Settings
from storage.crypto import generate_key
from tests.bot.support import Member
from workflows.client import create_hatchet
from workflows.contracts import IMPORT_PLAYLIST, SHARE_PLAYLIST, ImportInput, ShareInput

CALLBACK_PATH = "/spotify/callback"


@pytest.fixture(scope="session")
def bot_hatchet(stack_session: dict[str, str]) -> Hatchet:
    """A client in a namespace of the bot tests' own, with both workflows registered."""
    namespace = f"t{uuid.uuid4().hex[:8]}_bot_"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HATCHET_CLIENT_NAMESPACE", namespace)
        hatchet = create_hatchet()
    share = hatchet.workflow(name=SHARE_PLAYLIST, input_validator=ShareInput)

    @share.task()
    def read(input: ShareInput, ctx: Context) -> dict[str, Any]:
        raise RuntimeError("the bot tests run no worker; this task must never execute")

    imports = hatchet.workflow(name=IMPORT_PLAYLIST, input_validator=ImportInput)

    @imports.task()
    def run(input: ImportInput, ctx: Context) -> dict[str, Any]:
        raise RuntimeError("the bot tests run no worker; this task must never execute")

    # What a worker does at start-up (Worker.register_workflow), without running one.
    for contract in (share, imports):
        hatchet._client.admin.put_workflow(contract.to_proto())
    return hatchet


@pytest.fixture
def fake_spotify() -> Iterator[FakeSpotify]:
    """Spotify with three users; the app's redirect URI is the bot's callback server."""
    redirect = f"http://127.0.0.1:{free_port()}{CALLBACK_PATH}"
    with FakeSpotify(redirect_uris=(redirect,)) as fake:
        fake.add_user("ada", "Ada Lovelace")
        fake.add_user("bob", "Bob")
        fake.add_user("cy", "Cy")
        yield fake


@pytest.fixture
def fake_discord() -> Iterator[FakeDiscord]:
    with FakeDiscord() as fake:
        yield fake


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """A fresh SQLite database per test (a module may override this with PostgreSQL)."""
    return f"sqlite+aiosqlite:///{tmp_path / 'data' / 'mixtape.db'}"


@pytest.fixture
def settings(database_url: str, fake_spotify: FakeSpotify, fake_discord: FakeDiscord) -> Settings:
    """Settings as an operator would write them, pointed at the fakes and a fresh database."""
    app = fake_spotify.default_app
    [redirect] = app.redirect_uris
    port = int(redirect.split(":")[2].split("/")[0])
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=database_url,
        discord_token=SecretStr(fake_discord.token),
        spotify_client_id=app.client_id,
        spotify_client_secret=SecretStr(app.client_secret),
        spotify_redirect_uri=redirect,
        spotify_api_base=fake_spotify.api_base,
        spotify_accounts_base=fake_spotify.accounts_base,
        token_encryption_keys=SecretStr(generate_key()),
        oauth_bind_host="127.0.0.1",
        oauth_bind_port=port,
        http_timeout_seconds=5.0,
    )


@pytest.fixture
def dispatch_hatchet(bot_hatchet: Hatchet) -> Hatchet:
    """The client the bot's dispatcher uses: the engine's, in the bot tests' namespace.

    A module whose tests dispatch no run overrides this with `offline_hatchet()` (from
    tests.bot.support), a client that never connects, and so needs no engine.
    """
    return bot_hatchet


@pytest.fixture
async def services(settings: Settings, dispatch_hatchet: Hatchet) -> AsyncIterator[BotServices]:
    """Built exactly as `python -m bot` builds them (database migrated to head)."""
    async with open_services(settings, lambda: dispatch_hatchet) as built:
        yield built


@pytest.fixture
async def bot(services: BotServices, fake_discord: FakeDiscord) -> AsyncIterator[MixtapeBot]:
    """Logged in to the fake Discord: extensions loaded, callback served, commands synced."""
    async with logged_in(MixtapeBot(services, pager_timeout=60.0), fake_discord) as client:
        yield client


@pytest.fixture
def guild_id() -> int:
    """This test's own guild (its runs are found by this id)."""
    return random.randrange(10**17, 10**18)


@pytest.fixture
def channel_id(fake_discord: FakeDiscord, guild_id: int) -> int:
    return fake_discord.add_channel(guild_id=guild_id, name="general")


@pytest.fixture
def alice() -> Member:
    return Member(FakeUser(random.randrange(10**17, 10**18), "alice"), "ada")


@pytest.fixture
def bob() -> Member:
    return Member(FakeUser(random.randrange(10**17, 10**18), "bob"), "bob")


@pytest.fixture
def carol() -> Member:
    """A member who never linked Spotify."""
    return Member(FakeUser(random.randrange(10**17, 10**18), "carol"), None)


@pytest.fixture
def driver(
    bot: MixtapeBot, fake_discord: FakeDiscord, guild_id: int, channel_id: int, alice: Member
) -> Iterator[InteractionDriver]:
    """Alice, an ordinary member of this test's guild, at the keyboard."""
    with InteractionDriver(
        bot, fake_discord, user=alice.user, guild_id=guild_id, channel_id=channel_id
    ) as member:
        yield member
