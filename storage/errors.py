"""Domain errors the repositories raise; the bot maps each to a specific ephemeral reply."""

from __future__ import annotations


class StorageError(Exception):
    """Base for expected, user-explainable storage outcomes (not database failures)."""


class PlaylistNotFound(StorageError):
    """No catalog entry with that id in this guild (unknown, unshared, or another guild's)."""


class PlaylistNotReady(StorageError):
    """The entry exists but its tracks have not been read successfully yet."""


class ImportNotFound(StorageError):
    """No import with that id."""


class ImportNotRetryable(StorageError):
    """The import is still queued, running or paused; only finished imports can be retried."""


class ActiveImportExists(StorageError):
    """The member already has an unfinished import of this playlist in this guild.

    Raised from the database's partial unique index, so two clicks at the same instant on
    any database end with one import and this error, never two imports.
    """


class ShareInProgress(StorageError):
    """The entry's latest share is still being read; another would repeat that work."""

    def __init__(self, playlist_id: int) -> None:
        super().__init__(f"catalog entry {playlist_id} is already being read")
        self.playlist_id = playlist_id


class CatalogFull(StorageError):
    """The guild's catalog holds as many entries as allowed; a new one is refused."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the catalog holds its maximum of {limit} entries")
        self.limit = limit


class ImportLedgerPruned(StorageError):
    """The import finished long ago and its per-track ledger was removed (retention): there
    is nothing left to retry from; the member imports the playlist again instead."""
