"""Async engine and session factory for SQLite (embedded default) and PostgreSQL.

Build them in the process entry point or worker lifespan, on the loop that will use them,
never at import time. The caller owns each transaction: `async with sessionmaker.begin()`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import URL, event, make_url
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.ext.asyncio import create_async_engine as _create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry, StaticPool

#: How long a SQLite writer waits for the other process (bot or worker) before failing.
SQLITE_BUSY_TIMEOUT_MS = 30_000


#: Async drivers for URLs given without one (e.g. `postgres://...` from a hosting provider).
_ASYNC_DRIVERS = {
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
    "sqlite": "sqlite+aiosqlite",
}


def async_url(url: str | URL) -> URL:
    """The URL with an async driver, so `postgresql://` and `sqlite://` work as given."""
    parsed = make_url(url)
    return parsed.set(drivername=_ASYNC_DRIVERS.get(parsed.drivername, parsed.drivername))


def create_engine(url: str | URL) -> AsyncEngine:
    """An engine that survives dropped connections and, on SQLite, shares a file safely."""
    parsed = async_url(url)
    if parsed.get_backend_name() != "sqlite":
        return _create_async_engine(parsed, pool_pre_ping=True)
    if is_sqlite_memory(parsed):
        # One shared connection, or every pooled connection would see its own empty database.
        engine = _create_async_engine(parsed, poolclass=StaticPool)
    else:
        _create_parent_directory(parsed)
        engine = _create_async_engine(parsed, pool_pre_ping=True)
    event.listen(engine.sync_engine, "connect", _configure_sqlite_connection)
    event.listen(engine.sync_engine, "begin", _begin_immediate)
    return engine


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions whose objects stay readable after commit (results outlive the transaction)."""
    return async_sessionmaker(engine, expire_on_commit=False)


def is_sqlite_memory(url: URL) -> bool:
    """True for an in-memory SQLite database, which has no file to lock or journal."""
    database = url.database or ""
    return database in ("", ":memory:") or "mode=memory" in database


def sqlite_path(url: URL) -> Path | None:
    """The database file of a SQLite URL, or None for an in-memory database."""
    if is_sqlite_memory(url):
        return None
    database = url.database or ""
    if database.startswith("file:"):
        database = database.removeprefix("file:").split("?", 1)[0]
    return Path(database).expanduser()


def _create_parent_directory(url: URL) -> None:
    path = sqlite_path(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)


def _configure_sqlite_connection(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    """WAL lets the bot read while the worker writes; the busy timeout queues the writers."""
    # Take over transaction control from the driver so `_begin_immediate` decides how to BEGIN.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
    finally:
        cursor.close()


def _begin_immediate(connection: Connection) -> None:
    """Take the write lock up front.

    A deferred transaction that reads and then writes fails at once with SQLITE_BUSY when
    another process committed in between (the busy timeout cannot help); IMMEDIATE makes it
    wait its turn instead, which also makes read-then-write repository calls atomic.
    """
    connection.exec_driver_sql("BEGIN IMMEDIATE")
