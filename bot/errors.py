"""Expected refusals, each carrying the sentence the member reads.

Handlers raise these and stop; `bot.error_handler` turns them into an ephemeral reply, so
no command repeats the "reply or follow up" dance. The texts come from `voice.replies`.
"""

from __future__ import annotations


class UserFacingError(Exception):
    """An outcome the member caused or can fix; `str(error)` is shown to them verbatim."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class GuildOnly(UserFacingError):
    """The command works only inside a server (the catalog belongs to a server)."""


class BadPlaylistLink(UserFacingError):
    """What was pasted is not a playlist link; the message says what it is instead."""


class PlaylistUnavailable(UserFacingError):
    """Spotify does not show the playlist to this member (missing, deleted or private)."""


class NotYourPlaylist(UserFacingError):
    """Spotify lets an app read a playlist's tracks only for its owner or a collaborator."""


class ShareInProgress(UserFacingError):
    """The playlist's previous share is still being read; another would repeat it."""


class CatalogFull(UserFacingError):
    """The server's catalog holds as many playlists as the operator allows."""


class CatalogEntryNotFound(UserFacingError):
    """No entry with that id or name in this server's catalog."""


class PickOne(UserFacingError):
    """A typed name matched no row exactly, or several: nothing was done; the message lists
    the candidates with their ids to pick from."""


class NotAllowed(UserFacingError):
    """The member lacks the right for this action (e.g. unsharing someone else's entry)."""


class SpotifyUnavailable(UserFacingError):
    """Spotify is rate limiting us or not answering; trying later will work."""


class LinkRequired(UserFacingError):
    """Importing writes into the member's own Spotify account, which must be linked first."""


class NotImportable(UserFacingError):
    """The catalog entry has no tracks to import yet (still being read, or reading failed)."""


class AlreadyImporting(UserFacingError):
    """The member already has an unfinished import of this playlist."""


class ImportNotFound(UserFacingError):
    """No import with that id or name in this server (for this member)."""


class ImportFinished(UserFacingError):
    """A cancel arrived after the import had already finished."""


class ImportStillRunning(UserFacingError):
    """Only a finished import can be retried."""


class TooOldToRetry(UserFacingError):
    """The import's per-track record was removed after the retention period."""


class NothingToRetry(UserFacingError):
    """Every track of the import is already in the playlist (or was skipped)."""
