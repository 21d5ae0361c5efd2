"""The real bot process (`python -m bot`): `/healthz`, clean stops, sharding.

`/healthz` on the bot's HTTP server says whether the gateway is connected and the database
answers (200, or 503 naming the part that is not), for compose's health check. SIGTERM
(`docker stop`) and SIGINT close the gateway, the HTTP server and the database and exit 0
within seconds; before, SIGTERM killed the process where it stood (and as a container's
PID 1 it was ignored until Docker's SIGKILL). DISCORD_SHARDS runs it as an
AutoShardedBot.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from devtools.offline import OfflineWorld
from devtools.stack import REPO_ROOT, free_port
from tests.deploy.pg import admin, fresh_database
from tests.deploy.processes import group_members, port_open, wait_for

pytestmark = pytest.mark.engine

STOP_WITHIN_SECONDS = 10.0


def healthz(port: int) -> tuple[int, dict[str, bool]]:
    """The bot's /healthz: status and body (0 when nothing answers)."""
    url = f"http://127.0.0.1:{port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())
    except (urllib.error.URLError, OSError):
        return 0, {}


class Bot:
    """`python -m bot` in its own process group, logging to a file."""

    def __init__(self, env: dict[str, str], log: Path, port: int) -> None:
        self.log, self.port = log, port
        with log.open("ab") as out:
            self.popen = subprocess.Popen(
                [sys.executable, "-m", "bot"],
                cwd=REPO_ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_healthy(self) -> None:
        def ready() -> bool:
            assert self.popen.poll() is None, self.log_text()[-3000:]
            return healthz(self.port)[0] == 200

        wait_for(ready, 120, "the bot's /healthz to answer 200")

    def kill(self) -> None:
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait()


@pytest.fixture
def world(tmp_path: Path) -> Iterator[OfflineWorld]:
    with OfflineWorld(tmp_path, oauth_port=free_port()) as offline:
        yield offline


@pytest.fixture
def bot_env(stack_env: dict[str, str], world: OfflineWorld) -> Iterator[dict[str, str]]:
    """The bot's settings: the fakes, the engine and a PostgreSQL database of its own."""
    with fresh_database(stack_env["MIXTAPE_TEST_PG_URL"], "bot") as (_, url):
        yield {
            **os.environ,
            **stack_env,
            **world.env(),
            "DATABASE_URL": url,
            "PYTHONUNBUFFERED": "1",
        }


@pytest.fixture
def start_bot(bot_env: dict[str, str], world: OfflineWorld, tmp_path: Path) -> Iterator[type]:
    bots: list[Bot] = []

    def start(**extra: str) -> Bot:
        bot = Bot({**bot_env, **extra}, tmp_path / f"bot-{len(bots)}.log", world.oauth_port)
        bots.append(bot)
        return bot

    yield start  # type: ignore[misc]
    for bot in bots:
        bot.kill()


def test_healthz_reports_the_gateway_and_the_database(
    start_bot: type, world: OfflineWorld, bot_env: dict[str, str], stack_env: dict[str, str]
) -> None:
    bot = start_bot()
    bot.wait_healthy()
    assert healthz(bot.port) == (200, {"gateway": True, "database": True})

    database = bot_env["DATABASE_URL"].rsplit("/", 1)[1]
    pg = stack_env["MIXTAPE_TEST_PG_URL"]
    terminate = (
        f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{database}'"  # noqa: S608, E501 - our own database
    )
    admin(pg, f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false', terminate)
    try:
        assert healthz(bot.port) == (503, {"gateway": True, "database": False})
    finally:
        admin(pg, f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')
    wait_for(lambda: healthz(bot.port)[0] == 200, 30, "the database to count again")

    world.discord.stop()  # the gateway goes away; the bot keeps trying to reconnect
    wait_for(
        lambda: healthz(bot.port) == (503, {"gateway": False, "database": True}),
        30,
        "/healthz to report the gateway down",
    )


@pytest.mark.parametrize(
    "signum", [signal.SIGTERM, signal.SIGINT], ids=lambda s: signal.Signals(s).name
)
def test_a_stop_signal_closes_everything_and_exits_at_once(
    signum: int, start_bot: type, world: OfflineWorld
) -> None:
    bot = start_bot()
    bot.wait_healthy()
    assert world.discord.gateway_sessions()

    os.kill(bot.popen.pid, signum)
    sent = time.monotonic()
    code = bot.popen.wait(timeout=30)
    took = time.monotonic() - sent

    log = bot.log_text()
    assert code == 0, log[-3000:]
    assert took < STOP_WITHIN_SECONDS, took
    assert "closing the gateway, the HTTP server and the database" in log
    assert group_members(bot.popen.pid) == set()
    assert not port_open(bot.port)
    wait_for(lambda: not world.discord.gateway_sessions(), 5, "the gateway session to close")
    assert "Traceback" not in log, log[-3000:]


def test_discord_shards_runs_an_auto_sharded_bot(start_bot: type, world: OfflineWorld) -> None:
    bot = start_bot(DISCORD_SHARDS="2")
    bot.wait_healthy()

    shards = sorted(s.shard for s in world.discord.gateway_sessions() if s.shard is not None)
    assert shards == [(0, 2), (1, 2)]
    os.kill(bot.popen.pid, signal.SIGTERM)
    assert bot.popen.wait(timeout=30) == 0
