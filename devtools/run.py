"""`python -m devtools`: run the product.

With `DISCORD_TOKEN` set it runs the real bot and worker (against the Hatchet engine named
by `HATCHET_CLIENT_TOKEN`, or a local one it starts). Without it, it says so and starts the
same two processes against the fake Discord and fake Spotify servers, checks that they came
up, prints where to look, then plays the demo script (`devtools.demo`), or with `--serve`
keeps serving until Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from devtools import dashboard
from devtools.stack import REPO_ROOT, STACK_DIR, free_port, log, running_stack, stop_on_signals
from devtools.worker_process import kill_group, stop_group
from mixtape.settings import Settings, get_settings

if TYPE_CHECKING:
    from devtools.offline import OfflineWorld

_UP_TIMEOUT_SECONDS = 90.0


@dataclass
class Child:
    """One of our two processes, in its own process group."""

    name: str
    popen: subprocess.Popen[bytes]

    def kill(self) -> None:
        """SIGKILL the whole group, as a crash or an OOM kill would."""
        kill_group(self.popen)

    def stop(self) -> None:
        stop_group(self.popen)


def spawn(name: str, module: str, env: dict[str, str], log_dir: Path | None) -> Child:
    """Start `python -m module`; output goes to the terminal, or to a log file in the demo."""
    out = (log_dir / f"{name}.log").open("ab") if log_dir else None
    popen = subprocess.Popen(
        [sys.executable, "-m", module],
        cwd=REPO_ROOT,
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT if out else None,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    if out:
        out.close()
    return Child(name, popen)


@contextlib.contextmanager
def hatchet_env(settings: Settings, persistent: bool) -> Iterator[dict[str, str]]:
    """The engine's client settings: the configured one, or a local stack we start."""
    if settings.hatchet_client_token is not None:
        log("using the Hatchet engine named by HATCHET_CLIENT_TOKEN")
        yield {}
        return
    root = STACK_DIR / "local" if persistent else None
    with running_stack(root=root) as info:
        yield {**info.client_env(), "MIXTAPE_HATCHET_API_URL": info.api_url}


@dataclass
class Crew:
    """The offline bot and worker; the demo kills and replaces the worker through it."""

    env: dict[str, str]
    log_dir: Path
    worker: Child
    bot: Child

    @classmethod
    def start(cls, env: dict[str, str], log_dir: Path) -> Crew:
        return cls(
            env,
            log_dir,
            spawn("worker", "workflows", env, log_dir),
            spawn("bot", "bot", env, log_dir),
        )

    @property
    def children(self) -> list[Child]:
        return [self.worker, self.bot]

    def alive(self) -> bool:
        return all(c.popen.poll() is None for c in self.children)

    def kill_worker(self) -> int:
        self.worker.kill()
        return self.worker.popen.pid

    def start_worker(self) -> int:
        self.worker = spawn("worker", "workflows", self.env, self.log_dir)
        return self.worker.popen.pid


def supervise(children: list[Child]) -> int:
    """Wait until a child exits or Ctrl-C; then stop the others. Exit code of the first."""
    try:
        while True:
            for child in children:
                code = child.popen.poll()
                if code is not None:
                    log(f"{child.name} exited with {code}")
                    return code or 1
            time.sleep(0.5)
    except KeyboardInterrupt:
        log("stopping")
        return 0
    finally:
        for child in children:
            child.stop()


def run_real(settings: Settings) -> int:
    """The real bot and worker, against Discord and Spotify."""
    missing = [
        name
        for name, value in (
            ("SPOTIFY_CLIENT_ID", settings.spotify_client_id),
            ("SPOTIFY_CLIENT_SECRET", settings.spotify_client_secret),
            ("TOKEN_ENCRYPTION_KEYS", settings.token_encryption_keys),
        )
        if not value
    ]
    if missing:
        log(f"DISCORD_TOKEN is set but {', '.join(missing)} is not: see .env.example")
        return 2
    with hatchet_env(settings, persistent=True) as env:
        child_env = {**os.environ, **env}
        if env:  # the local stack we started: say where its dashboard is
            print("\n".join(dashboard.describe(child_env)), flush=True)
        children = [
            spawn("worker", "workflows", child_env, None),
            spawn("bot", "bot", child_env, None),
        ]
        return supervise(children)


def _drive(
    world: OfflineWorld,
    crew: Crew,
    env: dict[str, str],
    api: str,
    engine_started: bool,
    serve: bool,
) -> int:
    """Wait for the offline bot and worker, say where to look, then serve or play the demo."""
    from devtools.demo import play

    try:
        world.wait_until_up(children_alive=crew.alive, timeout=_UP_TIMEOUT_SECONDS)
    except (TimeoutError, RuntimeError) as exc:
        log(f"the offline stack did not come up: {exc}")
        return 1
    print(world.describe(hatchet_api=api), flush=True)
    if engine_started or "MIXTAPE_HATCHET_DASHBOARD_URL" in env:
        print("\n".join(dashboard.describe(env)), flush=True)
    if serve:
        log("serving until Ctrl-C")
        return supervise(crew.children)
    return play(world, crew, env.get("HATCHET_CLIENT_TOKEN"))


def run_offline(settings: Settings, serve: bool) -> int:
    """Bot and worker against the fakes: shows a newcomer the whole system come up and work."""
    from devtools.offline import OfflineWorld  # the fakes are only needed here

    log("DISCORD_TOKEN is not set: starting the offline demo against fake Discord and Spotify")
    workdir = Path(tempfile.mkdtemp(prefix="demo-", dir=STACK_DIR))
    with (
        hatchet_env(settings, persistent=False) as engine,
        OfflineWorld(workdir, oauth_port=free_port()) as world,
    ):
        env = {**os.environ, **engine, **world.env()}
        api = env.get("MIXTAPE_HATCHET_API_URL", "the engine named by HATCHET_CLIENT_TOKEN")
        crew = Crew.start(env, workdir)
        try:
            code = _drive(world, crew, env, api, engine_started=bool(engine), serve=serve)
        except KeyboardInterrupt:
            if not serve:
                raise  # an interrupted demo did not pass
            log("stopping")  # Ctrl-C is how --serve ends, even before it is fully up
            code = 0
        finally:
            for child in crew.children:
                child.stop()
        if code != 0:
            for child in crew.children:
                log(f"--- {child.name} log ---\n{world.log_tail(child.name)}")
    if code == 0:  # logs and database of a passed demo are not worth keeping
        shutil.rmtree(workdir, ignore_errors=True)
    else:
        log(f"logs and the demo database are kept in {workdir}")
    return code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools")
    parser.add_argument(
        "--serve",
        action="store_true",
        help="offline: keep serving after start-up until Ctrl-C instead of playing the demo script",
    )
    args = parser.parse_args(argv)
    # SIGTERM and SIGHUP unwind like Ctrl-C: the bot, the worker and the stack are stopped.
    stop_on_signals()
    STACK_DIR.mkdir(exist_ok=True)
    settings = get_settings()
    try:
        if settings.discord_token is not None:
            return run_real(settings)
        return run_offline(settings, args.serve)
    except KeyboardInterrupt:  # everything started is stopped by now (each `finally`)
        log("stopped")
        return 0 if args.serve else 130  # Ctrl-C ends --serve; it cuts a demo short
