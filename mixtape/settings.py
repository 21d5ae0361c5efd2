"""The one settings object, read from the environment and `.env`.

Read it in entry points (`__main__`, worker lifespan) through `get_settings()`, never at
import time, so every module imports without a token or a database.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything an operator can set; secrets are `SecretStr` so they never reach a log."""

    # An empty value counts as unset: `cp .env.example .env` leaves placeholders such as
    # `DISCORD_TOKEN=` that must not read as an (empty) token.
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", env_ignore_empty=True)

    database_url: str = Field(
        default="sqlite+aiosqlite:///.data/mixtape.db",
        description="SQLAlchemy async URL: sqlite+aiosqlite:///path or postgresql+asyncpg://...",
    )

    discord_token: SecretStr | None = Field(default=None, description="Bot token; unset = demo")
    discord_api_base: str | None = Field(
        default=None, description="Override Discord's REST base (the fake, in tests and the demo)"
    )

    discord_gateway_url: str | None = Field(
        default=None, description="Override Discord's gateway URL (the fake's, in the demo)"
    )

    spotify_client_id: str | None = None
    spotify_client_secret: SecretStr | None = None
    spotify_redirect_uri: str = "http://127.0.0.1:8765/spotify/callback"
    public_base_url: str | None = Field(
        default=None,
        description="Where members' browsers reach the bot (https://your.domain): the redirect "
        "URI is <this>/spotify/callback unless SPOTIFY_REDIRECT_URI is set",
    )
    spotify_api_base: str = "https://api.spotify.com/v1/"
    spotify_accounts_base: str = "https://accounts.spotify.com"

    token_encryption_keys: SecretStr | None = Field(
        default=None,
        description="Comma-separated Fernet keys; the first encrypts, all decrypt (rotation)",
    )

    oauth_state_ttl_seconds: int = Field(default=600, ge=60, description="Life of a /link URL")
    oauth_bind_host: str = Field(
        default="127.0.0.1", description="Loopback: the HTTPS proxy in front reaches it there"
    )
    oauth_bind_port: int = 8765
    oauth_idle_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        description="A connection that sends no complete request for this long is closed",
    )
    oauth_max_connections: int = Field(
        default=100,
        ge=1,
        description="Open connections to the callback server; idle ones are shed first",
    )

    hatchet_client_token: SecretStr | None = Field(
        default=None, description="Set to use an existing Hatchet (e.g. Cloud); unset = local stack"
    )

    http_timeout_seconds: float = Field(default=10.0, gt=0)
    progress_interval_seconds: float = Field(default=3.0, ge=0)
    worker_slots: int = Field(default=20, ge=1)
    spotify_app_calls_per_minute: int = Field(
        default=600, ge=1, description="Hatchet pacing of all Spotify calls of this app"
    )
    spotify_member_calls_per_minute: int = Field(
        default=180, ge=1, description="Hatchet pacing of one member's Spotify calls"
    )
    spotify_transient_retries: int = Field(default=5, ge=0, le=20)
    spotify_backoff_max_seconds: int = Field(default=60, ge=1)
    pause_after_retry_after_seconds: float = Field(
        default=60.0, gt=0, description="A Retry-After this long pauses the import visibly"
    )
    import_stall_seconds: float = Field(
        default=120.0,
        gt=0,
        description="A running import whose run is quiet this long gets a fresh run",
    )
    max_rate_limit_waits: int = Field(
        default=50, ge=1, description="Retry-After waits one step may take before it gives up"
    )
    import_steps_per_guild: int | None = Field(
        default=None,
        ge=1,
        description="Searches of one guild running at once (unset: half of WORKER_SLOTS), so "
        "other guilds always find a free slot",
    )
    share_cooldown_uses: int = Field(
        default=3, ge=1, description="/share a member may run per SHARE_COOLDOWN_SECONDS"
    )
    share_cooldown_seconds: float = Field(
        default=60.0, ge=0, description="The /share cooldown's window; 0 turns it off"
    )
    import_cooldown_uses: int = Field(
        default=5, ge=1, description="/import a member may run per IMPORT_COOLDOWN_SECONDS"
    )
    import_cooldown_seconds: float = Field(
        default=60.0, ge=0, description="The /import cooldown's window; 0 turns it off"
    )
    share_stale_after_seconds: float = Field(
        default=7 * 3600.0,
        ge=60,
        description="A share still pending or reading after this long is taken for dead "
        "(a share run stops after 6 h) and may be started again",
    )
    catalog_max_entries_per_guild: int = Field(
        default=500, ge=1, description="Playlists one server's catalog may hold"
    )
    ledger_retention_days: int = Field(
        default=90,
        ge=1,
        description="Per-track rows of imports finished this long ago are removed "
        "(the import and its counts stay; it can no longer be retried)",
    )
    follow_cron: str = Field(
        default="0 6 * * *",
        pattern=r"^\S+( \S+){4}$",
        description="When (cron, UTC) shared playlists are checked for changes, which "
        "then reach the copies of members who follow them",
    )
    worker_drain_seconds: float = Field(
        default=20.0,
        gt=0,
        description="A stopping worker waits this long for its running steps, then leaves "
        "them to the engine (keep it below compose's stop_grace_period)",
    )
    discord_shards: Literal["auto"] | int | None = Field(
        default=None,
        description="Unset: one gateway connection; `auto`: as many shards as Discord "
        "recommends; a number: that many (needed from 2,500 servers on)",
    )
    log_level: str = "INFO"

    @field_validator("public_base_url")
    @classmethod
    def _public_base_url(cls, value: str | None) -> str | None:
        """Spotify accepts only HTTPS or loopback redirect URIs: refuse others at start."""
        if value is None:
            return None
        parts = urlsplit(value)
        loopback = parts.scheme == "http" and parts.hostname in ("127.0.0.1", "::1")
        if not parts.hostname or not (parts.scheme == "https" or loopback):
            raise ValueError(
                "PUBLIC_BASE_URL must be https://your.domain (or http://127.0.0.1:PORT)"
            )
        if parts.query or parts.fragment:
            raise ValueError("PUBLIC_BASE_URL takes no query or fragment")
        return value.rstrip("/")

    @field_validator("discord_shards")
    @classmethod
    def _discord_shards(cls, value: str | int | None) -> str | int | None:
        if isinstance(value, int) and value < 1:
            raise ValueError("DISCORD_SHARDS is `auto` or a number of at least 1")
        return value

    @model_validator(mode="after")
    def _derive_redirect_uri(self) -> Settings:
        """One setting names the public address; the callback lives under it."""
        if self.public_base_url and "spotify_redirect_uri" not in self.model_fields_set:
            self.spotify_redirect_uri = f"{self.public_base_url}/spotify/callback"
        return self


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Cached so every caller in a process shares one view of the environment."""
    return Settings()
