"""docker-compose.yml run without Docker: every service started here with exactly the
environment and command compose gives it, then a member links, shares, imports and
cancels through the real bot and worker.

What differs from a Docker host, and only that: compose's service names are the loopback
addresses of processes started here (`postgres:5432`, `hatchet:7070`, `hatchet:8888`),
named volumes are folders, a container's `0.0.0.0` is `127.0.0.1`, and the ports that a
container has to itself (8765, 8001, 7070, 8888, 8733, 8080, 8081) are free ports of this
host. The images' contents are this checkout: hatchet-lite's entrypoint steps run the
binaries scripts/bootstrap built from the same tag, and Mixtape's image is the venv.
`SERVER_URL` stays `http://localhost:8888`, which inside the bot's container is the bot
itself: /cancel reaches the engine only through HATCHET_CLIENT_SERVER_URL.

Discord and Spotify are the fakes, named by test values in the copied `.env`.
"""

from __future__ import annotations

import asyncio
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hatchet_sdk import ClientConfig, Hatchet
from hatchet_sdk.clients.rest.models.v1_task_status import V1TaskStatus
from hatchet_sdk.config import ClientTLSConfig

from devtools.offline import IMPORTER, SHARER, OfflineWorld
from devtools.stack import BIN_DIR, REPO_ROOT, LocalStack, free_port
from fakes.browser import Browser
from fakes.channel_view import ChannelView
from fakes.interactions import FakeUser, InteractionDriver
from fakes.spotify_model import Fault
from tests.deploy.compose import load_compose, read_dotenv, resolve, service_env
from tests.deploy.pg import admin
from tests.deploy.processes import group_members, port_open, wait_for
from tests.deploy.test_compose_file import FILLED
from tests.waiting import async_wait_until

pytestmark = pytest.mark.engine(own_stack=True)  # starts a stack of its own

ADD = "POST /v1/playlists/{id}/items"
ADA, BEA = FakeUser(10**17 + 11, "ada"), FakeUser(10**17 + 12, "bea")
#: hatchet-lite's image ENV (build/package/lite.dockerfile of the pinned module)
LITE_IMAGE_ENV = {
    "LITE_STATIC_ASSET_DIR": "/static-assets",
    "LITE_FRONTEND_BASE_PATH": "/",
    "LITE_FRONTEND_PORT": "8081",
    "LITE_RUNTIME_PORT": "8888",
}
#: hatchet-lite's entrypoint (hack/lite/start.sh of the pinned module), run from `/`
LITE_ENTRYPOINT = (
    "./hatchet-migrate && "
    "./hatchet-admin quickstart --skip certs --generated-config-dir ./config --overwrite=false"
    " && exec ./hatchet-lite --config ./config"
)


@dataclass
class Host:
    """This machine in the place of the compose network, its volumes and its images."""

    root: Path
    ports: dict[str, int] = field(default_factory=dict)  # container port -> host port
    hosts: dict[str, str] = field(default_factory=dict)  # service:port -> 127.0.0.1:port
    paths: dict[str, str] = field(default_factory=dict)  # container path -> host path
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def port(self, container_port: str) -> int:
        if container_port not in self.ports:
            self.ports[container_port] = free_port(avoid=self.ports.values())
        return self.ports[container_port]

    def localize(self, text: str) -> str:
        """A value or command as this host runs it (one pass: no replacement is redone)."""
        table = {**self.hosts, **self.paths, "0.0.0.0": "127.0.0.1"}  # noqa: S104
        names = sorted(table, key=len, reverse=True)
        return re.sub("|".join(map(re.escape, names)), lambda m: table[m[0]], text)

    def env(self, env: dict[str, str], port_settings: tuple[str, ...] = ()) -> dict[str, str]:
        """An environment as this host runs it; `port_settings` name the container's own
        ports (each must hold one), which become free ports here."""
        local = {key: self.localize(value) for key, value in env.items()}
        for key in port_settings:
            local[key] = str(self.port(local[key]))
        return local

    def run(self, name: str, command: str, env: dict[str, str], cwd: Path) -> None:
        """A one-shot, as compose runs it before the services that wait for it."""
        done = subprocess.run(
            ["sh", "-c", command],
            env=env,
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, f"{name}: {done.stderr[-3000:]}"

    def start(
        self, name: str, command: str, env: dict[str, str], cwd: Path
    ) -> subprocess.Popen[bytes]:
        with (self.root / f"{name}.log").open("ab") as log:
            proc = subprocess.Popen(
                ["sh", "-c", command],
                env=env,
                cwd=cwd,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.procs.append(proc)
        return proc

    def log(self, name: str) -> str:
        return (self.root / f"{name}.log").read_text(errors="replace")

    def healthy(self, service: dict[str, Any], env: dict[str, str]) -> bool:
        """The service's compose health check, run here."""
        test = service["healthcheck"]["test"]
        argv = ["sh", "-c", test[1]] if test[0] == "CMD-SHELL" else test[1:]
        argv = [self.localize(a) for a in argv]
        for container, host in self.ports.items():
            argv = [
                re.sub(rf"(127\.0\.0\.1|localhost):{container}\b", f"127.0.0.1:{host}", a)
                for a in argv
            ]
        done = subprocess.run(argv, env=env, capture_output=True, timeout=30, check=False)
        return done.returncode == 0

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


@pytest.fixture
def host(tmp_path: Path) -> Iterator[Host]:
    here = Host(tmp_path)
    yield here
    here.stop()


@pytest.fixture
def postgres(tmp_path: Path, host: Host) -> Iterator[None]:
    """Compose's postgres service: POSTGRES_USER/_PASSWORD/_DB and deploy/postgres-init.sql."""
    cluster = LocalStack(tmp_path / "pg")
    try:
        superuser = cluster.start_postgres()
        password = FILLED["POSTGRES_PASSWORD"]
        admin(
            superuser,
            f"CREATE ROLE mixtape LOGIN SUPERUSER PASSWORD '{password}'",
            "CREATE DATABASE mixtape OWNER mixtape",
        )
        port = int(superuser.rsplit(":", 1)[1].split("/")[0])
        init = (REPO_ROOT / "deploy" / "postgres-init.sql").read_text()
        admin(f"postgresql://mixtape:{password}@127.0.0.1:{port}/mixtape", init)
        host.hosts["postgres:5432"] = f"127.0.0.1:{port}"
        yield
    finally:
        cluster.stop()
        cluster.remove()


def test_the_compose_services_as_compose_configures_them(
    tmp_path: Path,
    host: Host,
    postgres: None,
) -> None:
    oauth_port = host.port("8765")
    with OfflineWorld(tmp_path / "world", oauth_port=oauth_port) as world:
        (tmp_path / "world").mkdir(exist_ok=True)
        dotenv = operators_dotenv(tmp_path, world, oauth_port)
        compose = resolve(load_compose(), dotenv)
        services = compose["services"]
        engine_root = tmp_path / "hatchet-root"
        for folder in ("static-assets", "config"):
            (engine_root / folder).mkdir(parents=True)
        (engine_root / "static-assets" / "index.html").write_text("<p>dashboard</p>")
        (tmp_path / "hatchet-token").mkdir()
        app = tmp_path / "app"  # the image's workdir: no .env in it (env_file is read by compose)
        app.mkdir()
        host.paths.update(
            {
                "./hatchet-": f"{BIN_DIR}/hatchet-",  # the image's binaries, in its workdir /
                "/static-assets": str(engine_root / "static-assets"),
                "./config": str(engine_root / "config"),  # the entrypoint's, from its workdir /
                "/config": str(engine_root / "config"),
                "/run/hatchet": str(tmp_path / "hatchet-token"),
                "/opt/mixtape/bin:": f"{Path(sys.executable).parent}:/usr/bin:/bin",
            }
        )
        host.hosts["hatchet:7070"] = f"127.0.0.1:{host.port('7070')}"
        host.hosts["http://hatchet:8888"] = f"http://127.0.0.1:{host.port('8888')}"
        tools = {"PATH": "/usr/bin:/bin"}

        # hatchet: the image's ENV and entrypoint with compose's environment
        engine_env = host.env(
            {**LITE_IMAGE_ENV, **services["hatchet"]["environment"], "SERVER_PORT": "8080"},
            (
                "LITE_FRONTEND_PORT",
                "LITE_RUNTIME_PORT",
                "SERVER_GRPC_PORT",
                "SERVER_HEALTHCHECK_PORT",
                "SERVER_PORT",
            ),
        )
        assert engine_env["SERVER_URL"] == "http://localhost:8888"  # as in the container
        engine = host.start(
            "hatchet", host.localize(LITE_ENTRYPOINT), {**tools, **engine_env}, engine_root
        )
        wait_for(
            lambda: engine.poll() is None and host.healthy(services["hatchet"], tools),
            180,
            "the engine's compose health check",
        )

        # hatchet-token and migrate: the one-shots
        token = services["hatchet-token"]
        host.run(
            "hatchet-token",
            host.localize(" ".join(token["command"])),
            {**tools, **host.env(token["environment"])},
            engine_root,
        )
        migrate_env = host.env(service_env(compose, "migrate", dotenv))
        host.run("migrate", shlex.join(services["migrate"]["command"]), migrate_env, app)

        # worker and bot: their commands read the token the one-shot left in the volume
        worker_env = host.env(
            service_env(compose, "worker", dotenv), ("HATCHET_CLIENT_WORKER_HEALTHCHECK_PORT",)
        )
        bot_env = host.env(service_env(compose, "bot", dotenv), ("OAUTH_BIND_PORT",))
        assert bot_env["OAUTH_BIND_PORT"] == str(oauth_port)
        worker = host.start(
            "worker", host.localize(services["worker"]["command"][2]), worker_env, app
        )
        bot = host.start("bot", host.localize(services["bot"]["command"][2]), bot_env, app)
        for name, env in (("worker", worker_env), ("bot", bot_env)):
            wait_for(
                lambda n=name, e=env: (
                    host.healthy(services[n], e) or any(p.poll() is not None for p in (worker, bot))
                ),
                120,
                f"the {name}'s compose health check",
            )
        assert worker.poll() is None and bot.poll() is None, host.log("bot") + host.log("worker")

        run_id = asyncio.run(link_share_import_cancel(world, host))

        hatchet = Hatchet(
            config=ClientConfig(
                token=(tmp_path / "hatchet-token" / "token").read_text().strip(),
                server_url=host.hosts["http://hatchet:8888"],
                host_port=host.hosts["hatchet:7070"],
                tls_config=ClientTLSConfig(strategy="none"),
            )
        )
        wait_for(
            lambda: hatchet.runs.get_status(run_id) == V1TaskStatus.CANCELLED,
            30,
            "the engine to report the import's run cancelled",
        )
        assert "engine did not take the cancel" not in host.log("bot")

        # docker stop: SIGTERM to each container's main process (tini passes it on)
        for proc, grace in (
            (bot, services["bot"]["stop_grace_period"]),
            (worker, services["worker"]["stop_grace_period"]),
        ):
            os.kill(proc.pid, signal.SIGTERM)
            proc.wait(timeout=int(grace.rstrip("s")))
            wait_for(
                lambda p=proc: not group_members(p.pid),
                5,
                f"the processes of {proc.args} to exit: {cmdlines(group_members(proc.pid))}",
            )
        assert not port_open(oauth_port)


def cmdlines(pids: set[int]) -> list[str]:
    return [
        Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        for pid in pids
        if Path(f"/proc/{pid}").exists()
    ]


def operators_dotenv(tmp_path: Path, world: OfflineWorld, oauth_port: int) -> dict[str, str]:
    """`cp .env.example .env`, filled in as an operator would, with the fakes' addresses."""
    shutil.copy(REPO_ROOT / ".env.example", tmp_path / ".env")
    fakes = world.env()
    values = {
        **FILLED,
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{oauth_port}",  # what Caddy serves, in a test
        "PROGRESS_INTERVAL_SECONDS": "1",
        **{
            key: fakes[key]
            for key in (
                "DISCORD_TOKEN",
                "DISCORD_API_BASE",
                "DISCORD_GATEWAY_URL",
                "SPOTIFY_CLIENT_ID",
                "SPOTIFY_CLIENT_SECRET",
                "SPOTIFY_API_BASE",
                "SPOTIFY_ACCOUNTS_BASE",
                "TOKEN_ENCRYPTION_KEYS",
            )
        },
    }
    text = (tmp_path / ".env").read_text()
    for key, value in values.items():
        text, found = re.subn(rf"(?m)^{key}=.*$", f"{key}={value}", text)
        assert found == 1, key
    (tmp_path / ".env").write_text(text)
    assert world.redirect_uri == f"{values['PUBLIC_BASE_URL']}/spotify/callback"
    return read_dotenv(tmp_path / ".env")


async def link_share_import_cancel(world: OfflineWorld, host: Host) -> str:
    """Ada links and shares; Bea links, imports (adds slowed) and cancels; the run's id."""
    assert world.source is not None
    with (
        InteractionDriver.over_gateway(world.discord, user=ADA) as ada,
        InteractionDriver.over_gateway(world.discord, user=BEA) as bea,
    ):
        for driver, account in ((ada, SHARER), (bea, IMPORTER)):
            await link(world, driver, account)
        await ada.slash("share", {"url": f"https://open.spotify.com/playlist/{world.source.id}"})
        await until(lambda: "Tracks:" in world_text(world), 90, "the share to finish", host)
        slow: Fault = world.spotify.inject(ADD, "delay", times=None, seconds=3, user=IMPORTER)
        started = await bea.slash("import", {"playlist": "#1"})
        await started.response(within=15)
        await until(lambda: slow.fired >= 1, 60, "the import to be adding", host)
        cancel = await bea.slash("cancel", {"import": "#1"})
        await cancel.response(within=15)
        await until(lambda: cancel_answered(world, cancel.token), 30, "/cancel's answer", host)
        world.spotify.clear_faults()
    return run_id_of_import(host)


async def link(world: OfflineWorld, driver: InteractionDriver, account: str) -> None:
    """/link, our page, Spotify's consent, the callback: PUBLIC_BASE_URL's redirect URI."""
    handle = await driver.slash("link")
    reply = await handle.response(within=15)
    [url] = [b["url"] for row in reply.data["components"] for b in row["components"]]
    assert url.startswith(f"{world.redirect_uri.rsplit('/', 1)[0]}/link?")
    async with Browser() as browser:
        page = await browser.follow(
            await browser.open(
                world.spotify.consent_url(
                    (await browser.submit(await browser.open(url))).location, account
                )
            )
        )
    assert page.status == 200 and "Linked as" in page.text, page.text[:500]


def world_text(world: OfflineWorld) -> str:
    return ChannelView(world.discord, world.discord.channel_id, {}).public_text()


def cancel_answered(world: OfflineWorld, token: str) -> bool:
    message = world.discord.original_response(token)
    return bool(message and message.get("content"))


async def until(check: Any, within: float, what: str, host: Host) -> None:
    await async_wait_until(
        check,
        timeout=within,
        interval=0.2,
        message=lambda _: (
            f"timed out waiting for {what}\n--- bot ---\n"
            f"{host.log('bot')[-2000:]}\n--- worker ---\n"
            f"{host.log('worker')[-2000:]}"
        ),
    )


def run_id_of_import(host: Host) -> str:
    """The import's run, as the database has it (`imports.workflow_run_id`)."""
    url = host.localize(f"postgresql://mixtape:{FILLED['POSTGRES_PASSWORD']}@postgres:5432/mixtape")
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import asyncio, asyncpg, sys\n"
            "async def main():\n"
            "    c = await asyncpg.connect(sys.argv[1])\n"
            "    q = 'SELECT workflow_run_id FROM imports ORDER BY id LIMIT 1'\n"
            "    print(await c.fetchval(q))\n"
            "asyncio.run(main())",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return done.stdout.strip()
