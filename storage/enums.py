"""The states rows move through; values are what the database stores."""

from __future__ import annotations

from enum import StrEnum


class PlaylistStatus(StrEnum):
    """A catalog entry's life: the share workflow reads it, then it is importable or not."""

    PENDING = "pending"
    READING = "reading"
    READY = "ready"
    FAILED = "failed"


class ImportStatus(StrEnum):
    """An import run as a whole; PAUSED means waiting out a long Retry-After."""

    QUEUED = "queued"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        """Finished one way or another; only a retry moves it again."""
        return self in _TERMINAL


_TERMINAL = frozenset({ImportStatus.COMPLETED, ImportStatus.FAILED, ImportStatus.CANCELLED})


class ItemState(StrEnum):
    """One ledger row: where a single track of an import stands."""

    PENDING = "pending"
    RESOLVED = "resolved"
    ADDED = "added"
    NOT_FOUND = "not_found"
    FAILED = "failed"
    SKIPPED = "skipped"
