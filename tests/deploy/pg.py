"""Databases of their own on the stack's PostgreSQL, for processes under test."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import asyncpg
from sqlalchemy import make_url


async def _admin(admin_url: str, *statements: str) -> None:
    connection = await asyncpg.connect(admin_url)
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


def admin(admin_url: str, *statements: str) -> None:
    """Run statements as the stack's superuser."""
    asyncio.run(_admin(admin_url, *statements))


@contextmanager
def fresh_database(admin_url: str, prefix: str = "deploy") -> Iterator[tuple[str, str]]:
    """A new empty database: (its name, its asyncpg URL for Mixtape); dropped after."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin(admin_url, f'CREATE DATABASE "{name}"')
    url = make_url(admin_url).set(drivername="postgresql+asyncpg", database=name)
    try:
        yield name, url.render_as_string(hide_password=False)
    finally:
        admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
