"""Every command option is total: any text gets a clear answer, never an internal error.

Hypothesis types arbitrary text into each option (and its autocomplete) through the real
command tree against the fake Discord, in a server with entries and imports whose names
and ids the text may hit. Refusals must be private and specific; a match may answer with
the command's own (public) page. Never "something went wrong on our side", never a logged
error. Unicode digits (`²`, `١٢`), huge ids, NUL and lone surrogates are always tried.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.client import MixtapeBot
from bot.services import BotServices
from fakes.discord_api import FakeDiscord
from fakes.interactions import MANAGE_GUILD, MEMBER_PERMISSIONS, InteractionDriver
from fakes.spotify import FakeSpotify
from storage.enums import ImportStatus, PlaylistStatus
from tests.bot.support import (
    Member,
    add_entry,
    add_import,
    link_directly,
    reply_text,
)
from tests.bot.test_imports import progress
from tests.bot.test_share import done_thinking, original_text

pytestmark = pytest.mark.engine

MANAGER = MEMBER_PERMISSIONS | MANAGE_GUILD
UNEXPECTED = "Something went wrong on our side"
PID = "37i9dQZF1DXcBWIGoYBM5M"

#: name, option, subcommand, whether the option has autocomplete
COMMANDS = {
    "catalog browse query": ("catalog", "query", "browse", False),
    "catalog show playlist": ("catalog", "playlist", "show", True),
    "unshare playlist": ("unshare", "playlist", None, True),
    "import playlist": ("import", "playlist", None, True),
    "cancel import": ("cancel", "import", None, True),
    "retry import": ("retry", "import", None, True),
    "share url": ("share", "url", None, False),
}
#: The answers that are the command working, not refusing: public pages and prompts.
PUBLIC_ANSWERS = {"catalog browse query", "catalog show playlist"}

TRICKY = [
    "²",
    "#²",
    "١٢",
    "#١٢",
    "＃1",
    "#1",
    "#2",
    "1",
    "#0",
    "#-1",
    "# 1",
    "#01",
    "#99999999999999999999",
    "#" + "9" * 5000,
    "9" * 5000,
    "",
    " ",
    "\x00",
    "#\x00",
    "\ud800",
    "best of 101s",
    "CLUB 11",
    "second 1",
    "#3",
    "#4",
    "#5",
    "%",
    "_",
    "\\",
    "'",
    '"',
    "--",
    ";",
    "*",
    "**",
    "@everyone",
    "<@1>",
    "1" * 120,
    "https://[open.spotify.com/playlist/" + PID,
    "https://open.spotify.com＃/playlist/" + PID,
    "spotify:playlist:" + PID,
    "https://open.spotify.com/playlist/" + PID + "＃x",
]
PREFIXES = ["#", "＃", "https://", "https://[", "spotify:", "open.spotify.com/", "best"]
option_values = st.one_of(
    st.text(max_size=80),
    st.text(st.characters(categories=["Nd", "No", "Nl", "Cs", "Cc", "Zs", "Po"]), max_size=12),
    st.sampled_from(TRICKY),
    st.integers(-3, 2**70).map(lambda n: f"#{n}"),
    st.text(alphabet="#＃0123456789²١ ", max_size=25),
    st.tuples(st.sampled_from(PREFIXES), st.text(max_size=30)).map("".join),
)


class _Errors(logging.Handler):
    """Logged tracebacks, and errors the bot or discord.py logged, from any logger.

    spotipy logs every HTTP error it raises at ERROR without a traceback (a 404 for a
    well-formed link to no playlist, which the member is told about): that is not ours.
    """

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info or record.name.split(".")[0] in ("bot", "discord"):
            self.records.append(record)


@pytest.fixture
def logged_errors() -> Iterator[_Errors]:
    handler = _Errors()
    logging.getLogger().addHandler(handler)
    yield handler
    logging.getLogger().removeHandler(handler)


@pytest.fixture
async def world(
    services: BotServices,
    fake_spotify: FakeSpotify,
    alice: Member,
    bob: Member,
    guild_id: int,
    channel_id: int,
) -> None:
    """Entries and imports whose names contain digits, so stray digits find candidates.

    No cooldowns: every input Hypothesis types as the one member must reach the command.
    """
    services.settings = services.settings.model_copy(
        update={"share_cooldown_seconds": 0.0, "import_cooldown_seconds": 0.0}
    )
    await link_directly(services, fake_spotify, alice)
    best = await add_entry(services, guild_id, alice.id, "Best of 101s", tracks=2)
    await add_entry(services, guild_id, bob.id, "Club 11", tracks=1)
    await add_entry(services, guild_id, bob.id, "Pending 2", status=PlaylistStatus.PENDING)
    await add_entry(services, guild_id + 1, bob.id, "Elsewhere 1", tracks=1)
    second = await add_entry(services, guild_id, bob.id, "Second 1", tracks=2)
    await add_import(services, guild_id, alice.id, second, channel_id)
    done = await add_import(services, guild_id, alice.id, best, channel_id)
    await progress(services, done, added=(0,), failed=(1,), finish=ImportStatus.COMPLETED)
    await add_import(services, guild_id, bob.id, second, channel_id)


@pytest.mark.parametrize("command", list(COMMANDS))
@settings(
    max_examples=100,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(text=option_values, as_manager=st.booleans())
async def test_any_text_gets_a_clear_answer(
    command: str,
    text: str,
    as_manager: bool,
    world: None,
    bot: MixtapeBot,
    fake_discord: FakeDiscord,
    alice: Member,
    guild_id: int,
    channel_id: int,
    logged_errors: _Errors,
) -> None:
    name, option, subcommand, completes = COMMANDS[command]
    logged_errors.records.clear()
    with InteractionDriver(
        bot,
        fake_discord,
        user=alice.user,
        guild_id=guild_id,
        channel_id=channel_id,
        permissions=MANAGER if as_manager else MEMBER_PERMISSIONS,
    ) as driver:
        handle = await driver.slash(name, {option: text}, subcommand=subcommand)
        reply = await handle.response()
        answer = reply_text(reply)
        if reply.type == 5:  # deferred: the answer replaces the "thinking…" message
            answer = original_text(await handle.original(until=done_thinking))
        await handle.finished()
        if completes:
            typing = await driver.autocomplete(
                name, {option: text}, focused=option, subcommand=subcommand
            )
            choices = await typing.response()
            await typing.finished()

    assert UNEXPECTED not in answer, answer
    assert answer.strip(), reply
    assert reply.ephemeral or command in PUBLIC_ANSWERS, (command, answer)
    if completes:
        assert choices.type == 8 and len(choices.choices) <= 25
        assert all(choice["value"].startswith("#") for choice in choices.choices)
    assert [r.getMessage() for r in logged_errors.records] == []
