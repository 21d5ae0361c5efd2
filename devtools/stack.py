"""The local stack: a private PostgreSQL cluster and the pinned Hatchet engine.

One implementation serves the test suite, the demo and a developer's own runs. It starts
what it needs on free loopback ports, waits for readiness by polling, hands back the
client settings, and tears down by pid what it started, even after a failure.
Installing the binaries is `scripts/bootstrap`'s job; this module only runs them.

Usage: `python -m devtools.stack exec -- CMD...` runs CMD with the stack's settings in its
environment and stops the stack afterwards; `python -m devtools.stack up` runs until Ctrl-C.
SIGTERM, SIGINT and SIGHUP stop it the same way (`stop_on_signals`): CMD's process group
gets the signal, then the engine and PostgreSQL are stopped; nothing is left running.

Safe on a shared host: the stack's folder and files are its owner's only (0700/0600, no
folder above it is touched), PostgreSQL asks every connection for a password, the
dashboard's admin gets a password of its own (never the engine's seed default) and nobody
can sign up. A stack in a folder of its own (the real bot's) keeps `fsync` on; only a
throwaway one (tests, the demo) trades crash safety for speed.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import http.client
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.error
import urllib.request
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

REPO_ROOT = Path(__file__).resolve().parent.parent
STACK_DIR = REPO_ROOT / ".stack"
BIN_DIR = STACK_DIR / "bin"
# scripts/bootstrap builds the Hatchet dashboard here, one folder per engine tag
# (devtools/dashboard.py); a folder counts once it has its `.complete` stamp.
DASHBOARD_DIR = STACK_DIR / "dashboard"
#: Caddy as docker-compose.yml runs it (image `caddy:2.11`): scripts/bootstrap builds this
#: version into BIN_DIR so tests run the real deploy/Caddyfile.
CADDY_VERSION = "v2.11.9"

_READY_TIMEOUT_SECONDS = 120.0
_PLACEHOLDER_INDEX = (
    "<!doctype html><title>Hatchet (local)</title><p>The Hatchet dashboard is not built "
    "(see .stack/dashboard-build.log). The REST API is under <code>/api/v1</code>.</p>\n"
)
# What `hatchet-admin quickstart`'s seed step (cmd/hatchet-admin/cli/seed) creates when
# ADMIN_EMAIL / ADMIN_PASSWORD are unset: `SeedConfigFile`'s defaults in the pinned module's
# pkg/config/database/config.go. The stack always sets both (see `_admin_login`); a stack
# seeded by an older Mixtape has its default password replaced (`_retire_default_admin`).
_ENGINE_DEFAULT_ADMIN = ("admin@example.com", "Admin123!!")
#: Every connection, local socket or TCP, authenticates with the superuser's password.
_PG_HBA = (
    "# Written by devtools.stack: a password (SCRAM) for every connection.\n"
    "local all all scram-sha-256\n"
    "host all all 127.0.0.1/32 scram-sha-256\n"
    "host all all ::1/128 scram-sha-256\n"
)
#: Crash safety traded for speed, in throwaway stacks only.
_PG_FAST_UNSAFE = "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
_STOP_TIMEOUT_SECONDS = 15.0
_HTTP_PROBE_TIMEOUT_SECONDS = 2.0
#: The engine refuses an expired token, and hatchet-admin's default life is 90 days: each
#: start mints a new one (its claims name this start's ports) that outlives any run.
TOKEN_LIFETIME = "87600h"
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


class Stopped(KeyboardInterrupt):
    """A stop signal (SIGTERM, SIGINT, SIGHUP), unwound like Ctrl-C so that every `finally`
    stops what it started."""


def stop_on_signals() -> None:
    """Turn the stop signals into `Stopped`; signals during the teardown are only noted."""

    def stop(signum: int, frame: object) -> None:
        for each in STOP_SIGNALS:
            signal.signal(each, lambda n, f: log(f"{signal.Signals(n).name}: already stopping"))
        log(f"{signal.Signals(signum).name} received: stopping")
        raise Stopped(signum)

    for signum in STOP_SIGNALS:
        signal.signal(signum, stop)


def log(message: str) -> None:
    """Say what the stack is doing; first runs are slow and silence looks like a hang."""
    print(f"[stack] {message}", file=sys.stderr, flush=True)


def pinned_engine_tag() -> str:
    """The engine tag, pinned beside the SDK pin in pyproject.toml."""
    data = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    return str(data["tool"]["mixtape"]["hatchet_engine_tag"])


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read (0600), whatever the umask or its old mode."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)


def open_private_log(path: Path) -> BinaryIO:
    """A log file only its owner can read, opened for appending."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.fchmod(fd, 0o600)
    return os.fdopen(fd, "ab")


def postgres_options(port: int, socket_dir: Path, durable: bool) -> str:
    """The server's options: loopback only, and `fsync` on unless the stack is throwaway."""
    options = (
        f"-c port={port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={socket_dir} "
        "-c timezone=UTC -c max_connections=400 -c shared_buffers=256MB"
    )
    return options if durable else f"{options} {_PG_FAST_UNSAFE}"


def free_ports(count: int) -> list[int]:
    """Ports the kernel says are free now on loopback, all different: each socket stays
    bound until every port is chosen, because a port is free again the moment its socket
    closes and the kernel may hand it out twice (a stack's health and frontend port once
    came out the same, and the engine could not listen)."""
    with contextlib.ExitStack() as held:
        socks = [
            held.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            for _ in range(count)
        ]
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in socks]


def free_port(avoid: Collection[int] = ()) -> int:
    """A port free now on loopback and not one of `avoid` (ports chosen earlier that nothing
    listens on yet)."""
    for _ in range(100):
        [port] = free_ports(1)
        if port not in avoid:
            return port
    raise RuntimeError(f"no free loopback port outside {sorted(avoid)}")


def postgres_bin_dir() -> Path:
    """The newest PostgreSQL server installed from Debian's packages."""
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if not candidates:
        raise RuntimeError("PostgreSQL server not installed: run scripts/bootstrap first")
    return candidates[-1].parent


def _http_status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=_HTTP_PROBE_TIMEOUT_SECONDS) as resp:  # noqa: S310
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except (urllib.error.URLError, OSError):
        return None


def built_dashboard(tag: str) -> Path | None:
    """The dashboard built for `tag`, or None when it is missing or unfinished."""
    folder = DASHBOARD_DIR / tag
    return folder if (folder / ".complete").exists() else None


def _post_json(url: str, body: dict[str, str], cookie: str = "") -> http.client.HTTPMessage:
    """POST JSON to a loopback service; the answer's headers (HTTPError on 4xx/5xx)."""
    request = urllib.request.Request(  # noqa: S310 - our own loopback engine
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json", **({"Cookie": cookie} if cookie else {})},
    )
    with urllib.request.urlopen(request, timeout=_HTTP_PROBE_TIMEOUT_SECONDS * 5) as resp:  # noqa: S310
        headers: http.client.HTTPMessage = resp.headers
        return headers


def http_json(url: str) -> object:
    """GET a small JSON document from a loopback service."""
    with urllib.request.urlopen(url, timeout=_HTTP_PROBE_TIMEOUT_SECONDS) as resp:  # noqa: S310
        return json.loads(resp.read())


@dataclass
class Process:
    """A child we started in its own process group, so teardown reaches its children."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        if not self.alive():
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGTERM)
        try:
            self.popen.wait(timeout=_STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=_STOP_TIMEOUT_SECONDS)


@dataclass
class StackInfo:
    """What a client of the stack needs to know."""

    pg_admin_url: str
    hatchet_token: str
    grpc_host_port: str
    api_url: str
    health_url: str
    engine_version: str
    runtime_url: str = ""  # lite's front port: the dashboard, and /api proxied to the API
    config_dir: str = ""  # the engine's generated configuration (keys), for hatchet-admin
    dashboard_url: str | None = None  # None: the placeholder page is served instead
    admin_email: str = ""
    admin_password: str = ""
    admin_password_source: str = ""

    def client_env(self) -> dict[str, str]:
        """Environment for our processes: the Hatchet SDK and the test suite read these."""
        env = {
            "HATCHET_CLIENT_TOKEN": self.hatchet_token,
            "HATCHET_CLIENT_HOST_PORT": self.grpc_host_port,
            "HATCHET_CLIENT_TLS_STRATEGY": "none",
            "HATCHET_CLIENT_SERVER_URL": self.api_url,
            "MIXTAPE_HATCHET_API_URL": self.api_url,
            "MIXTAPE_HATCHET_HEALTH_URL": self.health_url,
            "MIXTAPE_TEST_PG_URL": self.pg_admin_url,
            "MIXTAPE_ENGINE_VERSION": self.engine_version,
            "MIXTAPE_HATCHET_RUNTIME_URL": self.runtime_url,
            "MIXTAPE_HATCHET_CONFIG_DIR": self.config_dir,
        }
        if self.dashboard_url is not None:
            env.update(
                {
                    "MIXTAPE_HATCHET_DASHBOARD_URL": self.dashboard_url,
                    "MIXTAPE_HATCHET_ADMIN_EMAIL": self.admin_email,
                    "MIXTAPE_HATCHET_ADMIN_PASSWORD": self.admin_password,
                    "MIXTAPE_HATCHET_ADMIN_PASSWORD_SOURCE": self.admin_password_source,
                }
            )
        return env


@dataclass
class LocalStack:
    """PostgreSQL + hatchet-lite under one folder; `start()` then `stop()`.

    `durable`: the stack is kept (the real bot's), so PostgreSQL keeps `fsync` on and its
    cluster outlives `stop()`.
    """

    root: Path
    durable: bool = False
    processes: list[Process] = field(default_factory=list)
    _pg_bin: Path | None = None
    _pg_data: Path | None = None
    _pg_password: str = ""
    _lite_argv: list[str] = field(default_factory=list)
    _lite_env: dict[str, str] = field(default_factory=dict)
    _urls: tuple[str, str] = ("", "")

    def start(self) -> StackInfo:
        tag = pinned_engine_tag()
        for name in ("hatchet-migrate", "hatchet-admin", "hatchet-lite"):
            if not (BIN_DIR / name).exists():
                raise RuntimeError(f"{BIN_DIR / name} missing: run scripts/bootstrap first")
        self._private_dir(self.root)
        pg_port = self._start_postgres()
        login = f"postgres:{self._pg_password}@127.0.0.1:{pg_port}"
        pg_admin = f"postgresql://{login}/postgres"
        hatchet_db = f"postgresql://{login}/hatchet?sslmode=disable"
        self._create_database(pg_port, "hatchet")
        info = self._start_hatchet(hatchet_db, tag)
        info.pg_admin_url = pg_admin
        return info

    def start_postgres(self) -> str:
        """Only the private cluster, no engine (a test's stand-in for compose's postgres
        service): its superuser URL; `stop()` stops it."""
        self._private_dir(self.root)
        port = self._start_postgres()
        return f"postgresql://postgres:{self._pg_password}@127.0.0.1:{port}/postgres"

    # PostgreSQL -------------------------------------------------------------------------

    def _pg_run(self, argv: list[str], *, timeout: float, check: bool = True) -> None:
        """Run a PostgreSQL server tool; initdb and postgres refuse to run as root, so a
        root caller runs them as the `postgres` account."""
        user = group = None
        extra_groups: list[int] | None = None
        if os.geteuid() == 0:
            entry = pwd.getpwnam("postgres")
            user, group, extra_groups = entry.pw_uid, entry.pw_gid, []
        subprocess.run(
            argv,
            check=check,
            capture_output=True,
            timeout=timeout,
            user=user,
            group=group,
            extra_groups=extra_groups,
        )

    def _chown_for_postgres(self, path: Path) -> None:
        if os.geteuid() == 0:
            entry = pwd.getpwnam("postgres")
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def _private_dir(self, path: Path, *, for_postgres: bool = False) -> None:
        """A folder only its owner may enter (0700); the postgres account's when it runs
        the cluster from it."""
        path.mkdir(parents=True, exist_ok=True)
        path.chmod(0o700)
        if for_postgres:
            self._chown_for_postgres(path)

    def pg_folder(self) -> Path:
        """Where the cluster lives: in our folder, or, run as root, in a folder of the
        postgres account's own (initdb and postgres refuse to run as root, and opening
        our folders to that account is what must not happen). A cluster an older Mixtape
        made in our folder stays where it is."""
        if os.geteuid() != 0 or (self.root / "pgdata" / "PG_VERSION").exists():
            return self.root
        home = Path(pwd.getpwnam("postgres").pw_dir) / "mixtape"
        return home / hashlib.sha256(str(self.root.resolve()).encode()).hexdigest()[:16]

    def _start_postgres(self) -> int:
        self._pg_bin = postgres_bin_dir()
        folder = self.pg_folder()
        if folder != self.root:
            self._private_dir(folder.parent, for_postgres=True)
        self._private_dir(folder, for_postgres=True)
        data, sock = folder / "pgdata", folder / "pgsock"
        self._private_dir(sock, for_postgres=True)
        password_file = folder / "pg-password"
        if not password_file.exists():
            write_private(password_file, secrets.token_hex(24))
            self._chown_for_postgres(password_file)
        self._pg_password = password_file.read_text().strip()
        self._pg_data = data
        if not (data / "PG_VERSION").exists():
            log(f"initialising a private PostgreSQL cluster in {data}")
            self._pg_run(
                [
                    str(self._pg_bin / "initdb"),
                    "-D",
                    str(data),
                    "-U",
                    "postgres",
                    "--auth=scram-sha-256",
                    f"--pwfile={password_file}",
                    "-E",
                    "UTF8",
                    "--locale=C.UTF-8",
                    "--no-instructions",
                ],
                timeout=120,
            )
        port = free_port()
        options = postgres_options(port, sock, self.durable)
        log(f"starting PostgreSQL on 127.0.0.1:{port}")
        self._pg_run(
            [
                str(self._pg_bin / "pg_ctl"),
                "-D",
                str(data),
                "-o",
                options,
                "-l",
                str(folder / "postgres.log"),
                "-w",
                "-t",
                "60",
                "start",
            ],
            timeout=90,
        )
        self._require_password(data, port)
        return port

    def _require_password(self, data: Path, port: int) -> None:
        """A cluster an older Mixtape made trusted every local connection (any account
        could connect as superuser): give the superuser its password and require it."""
        hba = data / "pg_hba.conf"
        rules = [
            line.split()
            for line in hba.read_text().splitlines()
            if line.strip() and not line.lstrip().startswith("#")
        ]
        if not any("trust" in rule for rule in rules):
            return
        log("this PostgreSQL cluster trusted local connections; it now requires a password")
        self._psql(port, f"ALTER ROLE postgres PASSWORD '{self._pg_password}'")
        write_private(hba, _PG_HBA)
        self._chown_for_postgres(hba)
        self._psql(port, "SELECT pg_reload_conf()")

    def _psql(self, port: int, sql: str) -> str:
        assert self._pg_bin is not None
        done = subprocess.run(
            [
                str(self._pg_bin / "psql"),
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "-U",
                "postgres",
                "-d",
                "postgres",
                "-tAc",
                sql,
            ],
            check=True,
            capture_output=True,
            text=True,
            timeout=30,
            env={**os.environ, "PGPASSWORD": self._pg_password},
        )
        return done.stdout.strip()

    def _create_database(self, port: int, name: str) -> None:
        if not name.isidentifier():
            raise ValueError(f"not a plain database name: {name!r}")
        exists = f"SELECT 1 FROM pg_database WHERE datname = '{name}'"  # noqa: S608
        if self._psql(port, exists) != "1":
            self._psql(port, f'CREATE DATABASE "{name}"')

    def _stop_postgres(self) -> None:
        if self._pg_bin is None or self._pg_data is None:
            return
        self._pg_run(
            [str(self._pg_bin / "pg_ctl"), "-D", str(self._pg_data), "-m", "fast", "-w", "stop"],
            timeout=60,
            check=False,
        )

    # Hatchet ----------------------------------------------------------------------------

    def _static_asset_dir(self) -> Path:
        """The dashboard for hatchet-lite to serve: the build for our tag, else one page that
        points at what does work. Lite templates index.html once at start, so this is chosen
        before it starts."""
        built = built_dashboard(pinned_engine_tag())
        if built is not None:
            return built
        static = self.root / "static"
        self._private_dir(static)
        write_private(static / "index.html", _PLACEHOLDER_INDEX)
        return static

    def _hatchet_env(self, database_url: str, ports: dict[str, int]) -> dict[str, str]:
        static = self._static_asset_dir()
        api_url = f"http://127.0.0.1:{ports['api']}"
        env = dict(os.environ)
        env.update(
            {
                "DATABASE_URL": database_url,
                "DATABASE_MAX_CONNS": "40",
                "SERVER_PORT": str(ports["api"]),
                "SERVER_URL": api_url,
                "SERVER_GRPC_PORT": str(ports["grpc"]),
                "SERVER_GRPC_BIND_ADDRESS": "127.0.0.1",
                "SERVER_GRPC_BROADCAST_ADDRESS": f"127.0.0.1:{ports['grpc']}",
                "SERVER_GRPC_INSECURE": "true",
                "SERVER_HEALTHCHECK_PORT": str(ports["health"]),
                "SERVER_AUTH_COOKIE_DOMAIN": "127.0.0.1",
                "SERVER_AUTH_COOKIE_INSECURE": "true",
                "SERVER_AUTH_SET_EMAIL_VERIFIED": "true",
                "SERVER_MSGQUEUE_KIND": "postgres",
                "SERVER_SECURITY_CHECK_ENABLED": "false",
                "SERVER_LOGGER_LEVEL": "warn",
                "SERVER_LOGGER_FORMAT": "console",
                "DATABASE_LOGGER_LEVEL": "warn",
                "DATABASE_LOGGER_FORMAT": "console",
                "LITE_STATIC_ASSET_DIR": str(static),
                "LITE_FRONTEND_PORT": str(ports["frontend"]),
                "LITE_RUNTIME_PORT": str(ports["runtime"]),
                "SERVER_ALLOW_SIGNUP": "false",
            }
        )
        env["ADMIN_EMAIL"], env["ADMIN_PASSWORD"] = self._admin_login()
        return env

    def _admin_login(self) -> tuple[str, str]:
        """The dashboard's admin: ADMIN_EMAIL / ADMIN_PASSWORD from the environment, else a
        password made for this stack and kept in its folder (the engine seeds the user
        once, so the password must stay the same)."""
        email = os.environ.get("ADMIN_EMAIL") or _ENGINE_DEFAULT_ADMIN[0]
        password = os.environ.get("ADMIN_PASSWORD")
        if password == _ENGINE_DEFAULT_ADMIN[1]:
            raise RuntimeError("ADMIN_PASSWORD is the engine's published default: choose another")
        if password:
            return email, password
        path = self.root / "hatchet-admin-password"
        if not path.exists():
            # Hatchet's rule: 8-64 characters with an upper- and a lower-case letter and a digit.
            write_private(path, f"Mx7{secrets.token_hex(16)}")
        return email, path.read_text().strip()

    def _retire_default_admin(self, api: str, password: str) -> None:
        """A stack seeded by an older Mixtape kept the engine's default admin login: give
        that user this stack's password, through the API's own password change."""
        email, default = _ENGINE_DEFAULT_ADMIN
        try:
            login = _post_json(f"{api}/api/v1/users/login", {"email": email, "password": default})
        except urllib.error.HTTPError:
            return  # the default login does not work: nothing to retire
        cookies = "; ".join(c.split(";", 1)[0] for c in login.get_all("Set-Cookie") or [])
        _post_json(
            f"{api}/api/v1/users/password",
            {"password": default, "newPassword": password},
            cookie=cookies,
        )
        log("the dashboard's admin had the engine's default password; it now has this stack's")

    def _start_hatchet(self, database_url: str, tag: str) -> StackInfo:
        names = ("api", "grpc", "health", "frontend", "runtime")
        ports = dict(zip(names, free_ports(len(names)), strict=True))
        env = self._hatchet_env(database_url, ports)
        config = self.root / "hatchet-config"
        log("migrating the Hatchet database")
        self._run_tool(["hatchet-migrate"], env, "hatchet-migrate")
        log("writing the Hatchet configuration (quickstart)")
        self._run_tool(
            [
                "hatchet-admin",
                "quickstart",
                "--skip",
                "certs",
                "--generated-config-dir",
                str(config),
                "--overwrite=false",
            ],
            env,
            "hatchet-admin-quickstart",
        )
        for path in [config, *config.rglob("*")]:  # keys and secrets: ours only
            path.chmod(0o700 if path.is_dir() else 0o600)
        token = self._create_token(env, config)
        log(f"starting hatchet-lite {tag} (gRPC 127.0.0.1:{ports['grpc']}, API :{ports['api']})")
        self._lite_argv = [str(BIN_DIR / "hatchet-lite"), "--config", str(config)]
        self._lite_env = env
        health = f"http://127.0.0.1:{ports['health']}"
        api = f"http://127.0.0.1:{ports['api']}"
        self._urls = (health, api)
        self._start_lite()
        self._retire_default_admin(api, env["ADMIN_PASSWORD"])
        version_doc = http_json(f"{health}/version")
        version = str(version_doc.get("version", "")) if isinstance(version_doc, dict) else ""
        if version != tag:
            raise RuntimeError(f"engine reports version {version!r}, expected pinned {tag!r}")
        log(f"Hatchet {version} ready; API {api}")
        info = StackInfo(
            pg_admin_url="",
            hatchet_token=token,
            grpc_host_port=f"127.0.0.1:{ports['grpc']}",
            api_url=api,
            health_url=health,
            engine_version=version,
            runtime_url=f"http://127.0.0.1:{ports['runtime']}",
            config_dir=str(config),
        )
        if Path(env["LITE_STATIC_ASSET_DIR"]).parent == DASHBOARD_DIR:
            # lite's runtime port serves the app and proxies /api; the auth cookie is set
            # for 127.0.0.1 (SERVER_AUTH_COOKIE_DOMAIN), so the URL must use it too
            info.dashboard_url = f"http://127.0.0.1:{ports['runtime']}/"
            info.admin_email, info.admin_password = env["ADMIN_EMAIL"], env["ADMIN_PASSWORD"]
            info.admin_password_source = (
                "ADMIN_PASSWORD"
                if os.environ.get("ADMIN_PASSWORD")
                else str(self.root / "hatchet-admin-password")
            )
            log(f"Hatchet dashboard {info.dashboard_url}")
        return info

    def _start_lite(self) -> None:
        lite = self._spawn("hatchet-lite", self._lite_argv, self._lite_env)
        health, api = self._urls
        self._wait_until(lambda: _http_status(f"{health}/ready") == 200, lite, "engine /ready")
        self._wait_until(lambda: _http_status(f"{api}/api/ready") == 200, lite, "API /api/ready")

    def restart_engine(self) -> None:
        """Stop the engine and start it again on the same ports and database (chaos tests)."""
        [lite] = [p for p in self.processes if p.name == "hatchet-lite"]
        log("restarting hatchet-lite")
        lite.stop()
        self.processes.remove(lite)
        self._start_lite()

    def _run_tool(
        self, argv: list[str], env: dict[str, str], name: str, *, secret_output: bool = False
    ) -> str:
        """Run a Hatchet tool; its log holds stdout too unless that is a secret."""
        done = subprocess.run(
            [str(BIN_DIR / argv[0]), *argv[1:]],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        kept = done.stderr if secret_output else done.stdout + done.stderr
        write_private(self.root / f"{name}.log", kept)
        if done.returncode != 0:
            raise RuntimeError(f"{name} failed ({done.returncode}):\n{done.stderr[-3000:]}")
        return done.stdout

    def _create_token(self, env: dict[str, str], config: Path) -> str:
        """A new API token on every start, never one an earlier start kept (it may have
        expired, or name the ports of an engine that is gone)."""
        (self.root / "hatchet-token").unlink(missing_ok=True)  # what older stacks kept
        out = self._run_tool(
            [
                "hatchet-admin",
                "--config",
                str(config),
                "token",
                "create",
                "--name",
                "mixtape",
                "--expiresIn",
                TOKEN_LIFETIME,
            ],
            env,
            "hatchet-admin-token",
            secret_output=True,
        )
        tokens = [line.strip() for line in out.splitlines() if line.strip().count(".") == 2]
        if not tokens:
            raise RuntimeError("hatchet-admin printed no token (see hatchet-admin-token.log)")
        return tokens[-1]

    def _spawn(self, name: str, argv: list[str], env: dict[str, str]) -> Process:
        log_path = self.root / f"{name}.log"
        with open_private_log(log_path) as out:
            popen = subprocess.Popen(
                argv,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        proc = Process(name, popen, log_path)
        self.processes.append(proc)
        write_private(self.root / f"{name}.pid", str(popen.pid))
        return proc

    def _wait_until(self, check: object, proc: Process, what: str) -> None:
        assert callable(check)
        deadline = time.monotonic() + _READY_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if not proc.alive():
                raise RuntimeError(
                    f"{proc.name} exited while waiting for {what}:\n{proc.log_tail()}"
                )
            if check():
                return
            time.sleep(0.2)
        raise RuntimeError(f"timed out waiting for {what}:\n{proc.log_tail()}")

    def stop(self) -> None:
        """Stop everything we started, newest first; never raises."""
        for proc in reversed(self.processes):
            try:
                proc.stop()
            except Exception as exc:  # noqa: BLE001  (teardown must reach the database)
                log(f"stopping {proc.name} failed: {exc}")
        self.processes.clear()
        self._stop_postgres()
        if not self.durable and self.pg_folder() != self.root:
            shutil.rmtree(self.pg_folder(), ignore_errors=True)

    def remove(self) -> None:
        """Delete the stack's files, its cluster's included (after `stop()`)."""
        shutil.rmtree(self.pg_folder(), ignore_errors=True)
        shutil.rmtree(self.root, ignore_errors=True)


@contextlib.contextmanager
def running_stack(root: Path | None = None, keep: bool = False) -> Iterator[StackInfo]:
    """Start a stack (in a fresh temporary folder unless `root` is given) and stop it after.

    A stack in a folder of its own is the real bot's: durable, and kept.
    """
    temp = root is None
    folder = root or Path(tempfile.mkdtemp(prefix="run-", dir=_ensure_stack_dir()))
    stack = LocalStack(folder, durable=not temp)
    try:
        yield stack.start()
    finally:
        log("stopping the local stack")
        stack.stop()
        if temp and not keep:
            stack.remove()


def _ensure_stack_dir() -> Path:
    STACK_DIR.mkdir(exist_ok=True)
    return STACK_DIR


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.stack")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("exec", help="run a command with the stack's settings, then stop it")
    run.add_argument("argv", nargs=argparse.REMAINDER)
    sub.add_parser("up", help="start the stack and keep it up until Ctrl-C")
    sub.add_parser("tag", help="print the pinned engine tag")
    sub.add_parser("caddy-version", help="print the Caddy version scripts/bootstrap builds")
    args = parser.parse_args(argv)
    if args.command == "tag":
        print(pinned_engine_tag())
        return 0
    if args.command == "caddy-version":
        print(CADDY_VERSION)
        return 0
    command = [a for a in args.argv if a != "--"] if args.command == "exec" else []
    if args.command == "exec" and not command:
        parser.error("exec needs a command")
    stop_on_signals()
    try:
        with running_stack() as info:
            if args.command == "up":
                for key, value in info.client_env().items():
                    print(f"{key}={value}", flush=True)
                while True:
                    signal.pause()
            return run_child(command, {**os.environ, **info.client_env()})
    except Stopped as stopped:
        return 128 + int(stopped.args[0]) if stopped.args else 130


def run_child(command: list[str], env: dict[str, str]) -> int:
    """Run `command`; a stop signal is passed on to it (a Ctrl-C in the terminal reached it
    already), and it gets `_STOP_TIMEOUT_SECONDS` to exit before it is killed."""
    child = subprocess.Popen(command, env=env)
    try:
        return child.wait()
    except Stopped as stopped:
        signum = int(stopped.args[0]) if stopped.args else signal.SIGTERM
        if not (signum == signal.SIGINT and _terminal_foreground()):
            with contextlib.suppress(ProcessLookupError):
                child.send_signal(signum)
        try:
            child.wait(timeout=_STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        raise


def _terminal_foreground() -> bool:
    """Whether we are the terminal's foreground group (so a Ctrl-C reached our child too)."""
    try:
        return os.isatty(0) and os.tcgetpgrp(0) == os.getpgrp()
    except OSError:
        return False


if __name__ == "__main__":
    sys.exit(main())
