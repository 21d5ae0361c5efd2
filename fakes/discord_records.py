"""Records the fake Discord keeps: calls, message versions, interaction responses.

Frozen records are handed to tests as they are; the two mutable ones (`_Interaction`,
`_Stored`) never leave the store's lock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fakes.discord_models import JSON


@dataclass(frozen=True)
class CallRecord:
    """One request the fake answered; `at` is `time.monotonic()` when it answered."""

    method: str
    path: str
    route: str
    status: int
    query: dict[str, str]
    request: Any
    response: Any
    headers: dict[str, str]
    at: float


@dataclass(frozen=True)
class MessageVersion:
    """One create or edit of a message: the request as sent and the message after it."""

    action: str
    route: str
    body: JSON
    message: JSON
    at: float


@dataclass(frozen=True)
class InteractionCallback:
    """An initial interaction response (`POST .../callback`) as the bot sent it."""

    interaction_id: int
    type: int
    data: JSON
    at: float

    @property
    def ephemeral(self) -> bool:
        """Whether the response asked for the EPHEMERAL flag (64)."""
        return bool(int(self.data.get("flags") or 0) & 64)

    @property
    def content(self) -> str | None:
        """Message content of a type 4/7 response."""
        content = self.data.get("content")
        return content if isinstance(content, str) else None

    @property
    def embeds(self) -> list[JSON]:
        """Embeds of a type 4/7 response."""
        return list(self.data.get("embeds") or [])

    @property
    def choices(self) -> list[JSON]:
        """Choices of an autocomplete (type 8) response."""
        return list(self.data.get("choices") or [])


@dataclass(frozen=True)
class InteractionTicket:
    """The id and token the fake minted for an interaction it will accept answers to."""

    id: int
    token: str


@dataclass
class _Interaction:
    id: int
    token: str
    type: int
    channel_id: int
    guild_id: int | None
    user: JSON
    name: str
    message_id: int | None
    issued_at: float
    callbacks: list[InteractionCallback] = field(default_factory=list)
    original_id: int | None = None
    followup_ids: list[int] = field(default_factory=list)


@dataclass
class _Stored:
    data: JSON
    created_at: float
    versions: list[MessageVersion]
    deleted: bool = False
