"""Every storage test runs twice: on a SQLite file and on a fresh PostgreSQL database.

PostgreSQL comes from `MIXTAPE_TEST_PG_URL` (an admin URL such as
`postgresql://postgres@127.0.0.1:5432/postgres`); each test gets its own database there,
dropped afterwards. Without that variable the PostgreSQL half is skipped locally and is an
error under CI, so a misconfigured pipeline cannot pass on SQLite alone.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from storage.crypto import TokenCipher, generate_key
from storage.engine import create_engine, make_sessionmaker
from storage.migrate import upgrade_to_head

PG_URL_ENV = "MIXTAPE_TEST_PG_URL"

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def pg_admin_url() -> URL | None:
    """The admin URL from the environment; fail under CI, skip elsewhere, when it is unset."""
    raw = os.environ.get(PG_URL_ENV, "").strip()
    if raw:
        return make_url(raw)
    if os.environ.get("CI"):
        pytest.fail(
            f"{PG_URL_ENV} is not set but CI is: storage tests must also run on PostgreSQL "
            "(the test harness exports it after starting its private cluster)",
            pytrace=False,
        )
    pytest.skip(f"PostgreSQL storage tests need {PG_URL_ENV} (admin URL of a test cluster)")


def _asyncpg_dsn(url: URL) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture(params=BACKENDS)
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database: a SQLite file in a not-yet-existing directory, or a new PG database."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'data' / 'mixtape.db'}"
        return
    request.getfixturevalue("stack_session")  # starts the private cluster unless one is named
    async with fresh_pg_database("mixtape_test") as url:
        yield url


@contextlib.asynccontextmanager
async def fresh_pg_database(prefix: str) -> AsyncIterator[str]:
    """A new, empty database on the test cluster (its async URL), dropped afterwards."""
    admin = pg_admin_url()
    assert admin is not None
    name = f"{prefix}_{uuid.uuid4().hex[:16]}"
    connection = await asyncpg.connect(_asyncpg_dsn(admin))
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    try:
        yield admin.set(drivername="postgresql+asyncpg", database=name).render_as_string(
            hide_password=False
        )
    finally:
        connection = await asyncpg.connect(_asyncpg_dsn(admin))
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await connection.close()


@pytest.fixture
async def migrated_url(database_url: str) -> str:
    """The database at the head revision."""
    await upgrade_to_head(database_url)
    return database_url


@pytest.fixture
async def engine(migrated_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on the test's own loop, disposed before the database is dropped."""
    engine = create_engine(migrated_url)
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """The session factory callers use: `async with sessions.begin() as session:`."""
    return make_sessionmaker(engine)


@pytest.fixture
def cipher() -> TokenCipher:
    """A cipher with a fresh key per test."""
    return TokenCipher([generate_key()])
