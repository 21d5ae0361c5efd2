"""Alembic environment, async.

`storage.migrate` hands over a connection that already holds the migration lock; run from
the alembic CLI (`alembic -c storage/alembic.ini ...`) it opens its own engine instead.
Logging is left to the host process (no fileConfig).
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from storage.engine import create_engine
from storage.models import Base

config = context.config
target_metadata = Base.metadata


def _database_url() -> str:
    url = config.attributes.get("url") or config.get_main_option("sqlalchemy.url")
    if url:
        return str(url)
    from mixtape.settings import get_settings  # CLI use only: read settings lazily

    return get_settings().database_url


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        # SQLite alters tables by copying them; batch mode makes later migrations portable.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_with_own_engine() -> None:
    engine = create_engine(_database_url())
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_run)
    finally:
        await engine.dispose()


def _run_offline() -> None:
    context.configure(
        url=_database_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


_given: Connection | None = config.attributes.get("connection")
if context.is_offline_mode():
    _run_offline()
elif _given is not None:
    _run(_given)
else:
    asyncio.run(_run_with_own_engine())
