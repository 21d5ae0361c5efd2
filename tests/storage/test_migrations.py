"""Migrations: from empty, idempotent, matching the models, safe when started concurrently."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from storage.engine import create_engine
from storage.migrate import alembic_config, current_revision, head_revision, upgrade_to_head
from storage.models import Base

REPO_ROOT = Path(__file__).resolve().parents[2]
TABLES = {
    "accounts",
    "oauth_states",
    "catalog_playlists",
    "catalog_tracks",
    "imports",
    "import_items",
    "track_matches",
    "link_waitlist",
    "rate_gates",
    "key_checks",
    "catalog_previous",
    "guild_follow_pauses",
    "import_removals",
}


async def _schema(url: str) -> tuple[set[str], list[str]]:
    """Table names and the rows of alembic_version."""
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            tables = await connection.run_sync(lambda sync: set(inspect(sync).get_table_names()))
            versions = await connection.execute(text("SELECT version_num FROM alembic_version"))
            return tables, [row[0] for row in versions]
    finally:
        await engine.dispose()


async def test_upgrade_from_empty_creates_every_table(database_url: str) -> None:
    assert await current_revision(database_url) is None

    await upgrade_to_head(database_url)

    tables, versions = await _schema(database_url)
    assert tables == TABLES | {"alembic_version"}
    assert versions == [head_revision()]


async def test_upgrade_twice_is_a_no_op(database_url: str) -> None:
    await upgrade_to_head(database_url)
    before = await _schema(database_url)

    await upgrade_to_head(database_url)

    assert await _schema(database_url) == before
    assert await current_revision(database_url) == head_revision()


async def test_migrated_schema_matches_the_models(migrated_url: str) -> None:
    def diff(connection: Connection) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))

    engine = create_engine(migrated_url)
    try:
        async with engine.connect() as connection:
            assert await connection.run_sync(diff) == []
    finally:
        await engine.dispose()


async def test_downgrade_to_base_and_back(migrated_url: str) -> None:
    def downgrade(connection: Connection) -> None:
        config = alembic_config(migrated_url)
        config.attributes["connection"] = connection
        command.downgrade(config, "base")

    engine = create_engine(migrated_url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(downgrade)
    finally:
        await engine.dispose()

    assert (await _schema(migrated_url))[0] == {"alembic_version"}
    await upgrade_to_head(migrated_url)
    assert (await _schema(migrated_url))[0] == TABLES | {"alembic_version"}


async def test_concurrent_upgrades_in_one_process_yield_one_schema(database_url: str) -> None:
    await asyncio.gather(*(upgrade_to_head(database_url) for _ in range(3)))

    tables, versions = await _schema(database_url)
    assert tables == TABLES | {"alembic_version"}
    assert versions == [head_revision()]


async def test_concurrent_migrate_processes_yield_one_schema(
    database_url: str, tmp_path: Path
) -> None:
    # Run from an unrelated cwd: the migration scripts are found from the package.
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "storage.migrate",
            database_url,
            cwd=tmp_path,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        for _ in range(2)
    ]
    outputs = await asyncio.wait_for(
        asyncio.gather(*(process.communicate() for process in processes)), timeout=120
    )

    logs = [out.decode() for out, _ in outputs]
    assert [process.returncode for process in processes] == [0, 0], logs
    assert sum("Running upgrade  -> 0001" in log for log in logs) == 1, logs
    tables, versions = await _schema(database_url)
    assert tables == TABLES | {"alembic_version"}
    assert versions == [head_revision()]
