"""Bring the database schema to the newest revision, safely from several processes at once.

The bot and the worker both call `upgrade_to_head` on start. Whoever gets the lock first
migrates; the other waits, then finds the schema at head and does nothing. PostgreSQL uses
a transaction-scoped advisory lock (released by the commit, or by the server if the process
dies); SQLite uses `flock` on `<db>.migrate.lock` (released by the kernel on exit) plus the
IMMEDIATE transaction every storage engine uses. DDL runs in that one transaction on both.

Run `python -m storage.migrate [DATABASE_URL]` to migrate by hand.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import sys
import weakref
from collections.abc import AsyncIterator
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import URL, func, make_url, select
from sqlalchemy.engine import Connection

from storage.engine import async_url, create_engine, sqlite_path

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
#: Arbitrary but fixed: every Mixtape process must agree on it (pg_advisory_xact_lock key).
PG_ADVISORY_LOCK_KEY = 0x4D69_7874_6170_65  # "Mixtape"
#: How long a starter waits for another one's migration before giving up.
LOCK_TIMEOUT_SECONDS = 300.0
_POLL_SECONDS = 0.05


def alembic_config(url: str | URL | None = None) -> Config:
    """Alembic configured in code: works from any cwd, no alembic.ini needed."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        config.attributes["url"] = make_url(url).render_as_string(hide_password=False)
    return config


def head_revision() -> str:
    """The newest revision shipped with this code."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError(f"no migrations found in {MIGRATIONS_DIR}")
    return head


async def current_revision(url: str | URL) -> str | None:
    """The revision the database is at, or None before the first migration."""
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(
                lambda sync: MigrationContext.configure(sync).get_current_revision()
            )
    finally:
        await engine.dispose()


async def upgrade_to_head(url: str | URL) -> None:
    """Migrate to head under a cross-process lock; a no-op when already there."""
    parsed = async_url(url)
    config = alembic_config(parsed)
    engine = create_engine(parsed)
    try:
        async with _loop_lock(), _file_lock(parsed), engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                await connection.execute(select(func.pg_advisory_xact_lock(PG_ADVISORY_LOCK_KEY)))
            await connection.run_sync(_upgrade, config)
    finally:
        await engine.dispose()


def _upgrade(connection: Connection, config: Config) -> None:
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


_LOOP_LOCKS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)


@contextlib.asynccontextmanager
async def _loop_lock() -> AsyncIterator[None]:
    """One migration at a time per event loop: Alembic keeps its context in a module global."""
    loop = asyncio.get_running_loop()
    lock = _LOOP_LOCKS.setdefault(loop, asyncio.Lock())
    async with lock:
        yield


@contextlib.asynccontextmanager
async def _file_lock(url: URL) -> AsyncIterator[None]:
    """Exclusive `flock` next to a SQLite file; nothing for other databases or memory."""
    path = sqlite_path(url) if url.get_backend_name() == "sqlite" else None
    if path is None:
        yield
        return
    lock_path = path.with_name(path.name + ".migrate.lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    # flock (not lockf): locks belong to the open file, so two starters in one process
    # exclude each other too. The lock file is never deleted; deleting it would race.
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + LOCK_TIMEOUT_SECONDS
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if loop.time() >= deadline:
                    raise TimeoutError(f"another process holds {lock_path}") from None
                await asyncio.sleep(_POLL_SECONDS)
        yield
    finally:
        os.close(fd)


def main(argv: list[str] | None = None) -> None:
    """`python -m storage.migrate [URL]`; without a URL, DATABASE_URL from the settings."""
    args = sys.argv[1:] if argv is None else argv
    if args:
        url = args[0]
    else:
        from mixtape.settings import get_settings

        url = get_settings().database_url
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    asyncio.run(upgrade_to_head(url))
    log.info("database schema at %s", head_revision())


if __name__ == "__main__":
    main()
