"""Small SQL helpers shared by the repositories (not for callers)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Base

_T = TypeVar("_T")

#: Bound parameters per IN (...) list; far below SQLite's and asyncpg's limits.
CHUNK = 500


def dialect_insert(session: AsyncSession, entity: type[Base]) -> postgresql.Insert | sqlite.Insert:
    """An INSERT with ON CONFLICT support for the session's database.

    ON CONFLICT makes an upsert one atomic statement, so concurrent callers on PostgreSQL
    neither fail on the unique constraint nor create duplicates.
    """
    name = session.get_bind().dialect.name
    if name == "postgresql":
        return postgresql.insert(entity)
    if name == "sqlite":
        return sqlite.insert(entity)
    raise NotImplementedError(f"storage supports SQLite and PostgreSQL, not {name}")


def chunked(values: Iterable[_T], size: int = CHUNK) -> Iterator[list[_T]]:
    """Split a long list so IN (...) clauses stay within bound-parameter limits."""
    batch: list[_T] = []
    for value in values:
        batch.append(value)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def rowcount(result: Any) -> int:
    """Rows matched by an UPDATE/DELETE (typed access to `CursorResult.rowcount`)."""
    count = getattr(result, "rowcount", -1)
    return int(count) if count is not None else -1
