"""No default passwords, and a local stack that is safe on a shared host.

The running stack (the one `scripts/test` starts) asks PostgreSQL connections for a
password, has no dashboard login anyone could guess and no sign-up. A stack of the real
bot's kind (durable, in a folder of its own) keeps `fsync` on, keeps its files private and
changes no folder above its own; one left by an older Mixtape (trusting local connections,
seeded with the engine's default admin) is made safe when it starts.
"""

from __future__ import annotations

import asyncio
import json
import os
import stat
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import make_url

from devtools.stack import LocalStack, http_json, postgres_options

DEFAULT_ADMIN = {"email": "admin@example.com", "password": "Admin123!!"}


def post(url: str, body: dict[str, str]) -> int:
    request = urllib.request.Request(  # noqa: S310 - the local engine
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def change_password(api: str, login: dict[str, str], new: str) -> int:
    """Log in and change the password, as a person would in the dashboard."""
    request = urllib.request.Request(  # noqa: S310 - the local engine
        f"{api}/api/v1/users/login",
        data=json.dumps(login).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        cookie = "; ".join(c.split(";")[0] for c in response.headers.get_all("Set-Cookie"))
    change = {"password": login["password"], "newPassword": new}
    request = urllib.request.Request(  # noqa: S310
        f"{api}/api/v1/users/password",
        data=json.dumps(change).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "Cookie": cookie},
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return int(response.status)


async def refused_without_password(url: str) -> bool:
    try:
        connection = await asyncpg.connect(make_url(url).set(password=None).render_as_string())
    except (asyncpg.PostgresError, asyncpg.InterfaceError):
        return True
    await connection.close()
    return False


async def auth_methods(url: str) -> set[str]:
    connection = await asyncpg.connect(url)
    try:
        rows = await connection.fetch("SELECT auth_method FROM pg_hba_file_rules")
        return {row["auth_method"] for row in rows}
    finally:
        await connection.close()


@pytest.mark.engine
def test_the_running_stack_has_no_default_login(stack_env: dict[str, str]) -> None:
    pg_url, api = stack_env["MIXTAPE_TEST_PG_URL"], stack_env["MIXTAPE_HATCHET_API_URL"]

    assert make_url(pg_url).password
    assert asyncio.run(refused_without_password(pg_url))
    assert asyncio.run(auth_methods(pg_url)) == {"scram-sha-256"}
    assert post(f"{api}/api/v1/users/login", DEFAULT_ADMIN) in (400, 401, 403)
    signup = {"name": "Mallory", "email": "mallory@example.com", "password": "Mallory123!!"}
    assert post(f"{api}/api/v1/users/register", signup) == 400
    meta = http_json(f"{api}/api/v1/meta")
    assert isinstance(meta, dict) and meta["allowSignup"] is False
    if "MIXTAPE_HATCHET_ADMIN_PASSWORD" in stack_env:  # handed out with a built dashboard
        ours = {
            "email": stack_env["MIXTAPE_HATCHET_ADMIN_EMAIL"],
            "password": stack_env["MIXTAPE_HATCHET_ADMIN_PASSWORD"],
        }
        assert post(f"{api}/api/v1/users/login", ours) == 200


async def show(url: str, setting: str) -> str:
    connection = await asyncpg.connect(url)
    try:
        return str(await connection.fetchval(f"SHOW {setting}"))
    finally:
        await connection.close()


def test_only_a_throwaway_stack_turns_fsync_off() -> None:
    assert "fsync=off" in postgres_options(5432, Path("/s"), durable=False)
    durable = postgres_options(5432, Path("/s"), durable=True)
    assert "fsync" not in durable and "synchronous_commit" not in durable


def modes(folder: Path) -> dict[str, int]:
    """Permission bits of a folder and everything in it."""
    found = {str(folder): stat.S_IMODE(folder.stat().st_mode)}
    for path in folder.rglob("*"):
        if not path.is_symlink() and (path.is_file() or path.is_dir()):
            found[str(path)] = stat.S_IMODE(path.stat().st_mode)
    return found


@pytest.fixture
def no_admin_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    monkeypatch.delenv("ADMIN_EMAIL", raising=False)
    monkeypatch.delenv("ADMIN_PASSWORD", raising=False)
    yield monkeypatch


@pytest.mark.engine(own_stack=True)
def test_the_real_bots_stack_is_private_durable_and_fixes_an_old_one(
    tmp_path: Path, no_admin_env: pytest.MonkeyPatch
) -> None:
    parents = {p: stat.S_IMODE(p.stat().st_mode) for p in tmp_path.parents}
    parents[tmp_path] = stat.S_IMODE(tmp_path.stat().st_mode)
    stack = LocalStack(tmp_path / "local", durable=True)
    try:
        info = stack.start()
        ours = (stack.root / "hatchet-admin-password").read_text()
        login = {"email": DEFAULT_ADMIN["email"], "password": ours}
        assert post(f"{info.api_url}/api/v1/users/login", DEFAULT_ADMIN) in (400, 401, 403)
        assert asyncio.run(show(info.pg_admin_url, "fsync")) == "on"
        # As an older Mixtape left it: the engine's default admin password ...
        assert change_password(info.api_url, login, DEFAULT_ADMIN["password"]) == 200
        assert post(f"{info.api_url}/api/v1/users/login", DEFAULT_ADMIN) == 200
        stack.stop()
        # ... and every local connection trusted.
        hba = stack.pg_folder() / "pgdata" / "pg_hba.conf"
        hba.write_text("local all all trust\nhost all all 127.0.0.1/32 trust\n")

        info = stack.start()

        assert asyncio.run(refused_without_password(info.pg_admin_url))
        assert asyncio.run(auth_methods(info.pg_admin_url)) == {"scram-sha-256"}
        assert post(f"{info.api_url}/api/v1/users/login", DEFAULT_ADMIN) in (400, 401, 403)
        assert post(f"{info.api_url}/api/v1/users/login", login) == 200
        for folder in {stack.root, stack.pg_folder()}:
            loose = {path: oct(mode) for path, mode in modes(folder).items() if mode & 0o077}
            assert loose == {}, loose
        assert {p: stat.S_IMODE(p.stat().st_mode) for p in parents} == parents
        if os.geteuid() == 0:  # the cluster lives with the postgres account, not in ours
            assert not stack.pg_folder().is_relative_to(tmp_path)
    finally:
        stack.stop()
        stack.remove()
