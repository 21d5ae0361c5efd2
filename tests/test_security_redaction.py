"""The redacting filter on its own: what it replaces, where it is installed, what is capped."""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from mixtape.log_redaction import (
    REDACTED,
    RedactingFilter,
    cap_leaky_loggers,
    install_redaction,
    settings_secrets,
)
from mixtape.settings import Settings

TOKEN = "BQ" + "a1B2-c3_D4" * 8  # Spotify-shaped
CODE = "AQ" + "x9Y8z7W6v5" * 9
INTERACTION = "aW50ZXJhY3Rpb246MTIzNDU2Nzg5OmFiY2RlZmdo"
JWT = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ0ZW5hbnQifQ.c2lnbmF0dXJlLXZhbHVl"


def redact(text: str, *secrets: str) -> str:
    return RedactingFilter(secrets).redact(text)


def test_what_spotipy_and_discord_py_log_at_debug_is_redacted() -> None:
    basic = base64.b64encode(b"client-id:client-secret-value").decode()
    lines = [
        f"Sending POST request to https://accounts.spotify.com/api/token with Headers: "
        f"{{'Authorization': 'Basic {basic}'}} and Body: {{'refresh_token': '{TOKEN}', "
        f"'grant_type': 'refresh_token'}}",
        f"POST https://discord.com/api/v10/interactions/123/{INTERACTION}/callback with "
        "{'type': 4} has returned 204",
        f"PATCH https://discord.com/api/v10/webhooks/456/{INTERACTION}/messages/@original",
        f"GET /spotify/callback?code={CODE}&state=s3cr3t-state-value",
        f"For Shard ID None: WebSocket Event: {{'d': {{'token': '{INTERACTION}', 'id': '1'}}}}",
        f'{{"access_token": "{TOKEN}", "token_type": "Bearer"}}',
        f"Authorization: Bearer {TOKEN}",
        "Authorization: Bot MTA1NjY3ODkwMTIzNDU2Nzg5.GhIjKl.abcdefghijklmnopqrstuvwxyz012",
        "postgresql://postgres:hunter2hunter2@127.0.0.1:5432/hatchet",
        f"token {JWT} minted",
    ]
    for line in lines:
        out = redact(line)
        assert REDACTED in out, line
        for secret in (
            basic,
            TOKEN,
            CODE,
            INTERACTION,
            JWT,
            "s3cr3t-state-value",
            "hunter2hunter2",
            "GhIjKl.abcdefghijklmnopqrstuvwxyz012",
        ):
            assert secret not in out, (line, out)


def test_known_values_go_wherever_they_appear_and_ordinary_text_stays() -> None:
    key = "Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZmdoaWo="
    assert redact(f"loaded {key}!", key) == f"loaded {REDACTED}!"
    assert redact("status code: 400, imported 12 tracks", "short") == (
        "status code: 400, imported 12 tracks"
    )


def test_arguments_and_exceptions_are_redacted_before_any_handler() -> None:
    try:
        raise ValueError(f"400 Client Error for url: https://x/callback?code={CODE}")
    except ValueError as exc:
        record = logging.LogRecord("t", logging.ERROR, __file__, 1, "got %s", (TOKEN,), None)
        record.exc_info = (type(exc), exc, exc.__traceback__)

    assert RedactingFilter().filter(record)

    assert record.getMessage() == f"got {REDACTED}"
    assert record.exc_text is not None and CODE not in record.exc_text
    assert CODE not in logging.Formatter().format(record)


@pytest.fixture
def isolated_logging() -> Iterator[None]:
    """Undo what `install_redaction` changes in this process's logging."""
    factory = logging.getLogRecordFactory()
    levels = {name: logging.getLogger(name).level for name in ("spotipy", "discord.http")}
    try:
        yield
    finally:
        logging.setLogRecordFactory(factory)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
        for logger in [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]:
            for handler in getattr(logger, "handlers", []):
                for found in [f for f in handler.filters if isinstance(f, RedactingFilter)]:
                    handler.removeFilter(found)


@pytest.mark.usefixtures("isolated_logging")
def test_every_handler_and_later_records_are_covered() -> None:
    own = logging.getLogger("test.own-handler")  # like hatchet's: own handler, no propagation
    own.propagate = False
    handler = logging.Handler()
    own.addHandler(handler)
    try:
        install_redaction(["a-registered-secret"])
        later = logging.getLogger("test.later")
        record = later.makeRecord("test.later", logging.INFO, __file__, 1, "%s", (TOKEN,), None)
    finally:
        own.removeHandler(handler)

    assert any(isinstance(f, RedactingFilter) for f in handler.filters)
    assert any(isinstance(f, RedactingFilter) for f in logging.getLogger().handlers[0].filters)
    assert record.getMessage() == REDACTED


@pytest.mark.usefixtures("isolated_logging")
def test_leaky_loggers_never_go_below_info() -> None:
    cap_leaky_loggers("DEBUG")
    assert logging.getLogger("spotipy").level == logging.INFO
    assert logging.getLogger("discord.http").level == logging.INFO
    cap_leaky_loggers("WARNING")
    assert logging.getLogger("spotipy").level == logging.WARNING


def test_the_settings_secrets_are_registered() -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        discord_token=SecretStr("discord-bot-token"),
        spotify_client_secret=SecretStr("spotify-secret"),
        token_encryption_keys=SecretStr("key-one-aaaa, key-two-bbbb"),
        hatchet_client_token=SecretStr("hatchet-token"),
        database_url="postgresql+asyncpg://mixtape:db-password@db/mixtape",
    )

    assert set(settings_secrets(settings)) == {
        "discord-bot-token",
        "spotify-secret",
        "key-one-aaaa",
        "key-two-bbbb",
        "hatchet-token",
        "db-password",
    }
