"""Secrets never reach a log, at any level: the bot's and the worker's one logging set-up.

At DEBUG, spotipy logs the client secret (a Basic header), authorization codes and tokens;
discord.py logs interaction and webhook tokens in URLs and gateway payloads; an error's
text can carry a URL with a code. So every handler gets a filter that rewrites each record
(message, exception text, stack) before it is written: the settings' secret values are
replaced wherever they appear, and patterns catch credentials nobody registered (headers,
`token=`-style pairs, Discord URLs, Spotify tokens, JWTs, URL passwords). Loggers that dump
whole requests are capped at INFO, so their secrets are never even formatted.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import make_url
from sqlalchemy.exc import ArgumentError

from mixtape.settings import Settings

REDACTED = "[redacted]"
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
#: Loggers that log whole requests and payloads at DEBUG (headers, bodies, tokens in URLs).
LEAKY_LOGGERS = ("spotipy", "urllib3", "discord.http", "discord.gateway", "discord.webhook")
#: Known values shorter than this are not searched for (they would match ordinary words).
_MIN_SECRET_LENGTH = 8

_KEYS = (
    r"access_token|refresh_token|id_token|client_secret|code_verifier|code|state|token"
    r"|password|secret"
)
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Authorization headers (spotipy logs its Basic header; Bearer and Bot credentials).
    (re.compile(r"\b(Basic|Bearer)(\s+)[A-Za-z0-9+/=._~-]{8,}", re.IGNORECASE), rf"\1\2{REDACTED}"),
    (re.compile(r"\bBot(\s+)[\w-]{20,}\.[\w-]{4,}\.[\w-]{20,}"), rf"Bot\1{REDACTED}"),
    # Query strings and forms: code=..., state=..., refresh_token=...
    (re.compile(rf"\b({_KEYS})=[^&\s'\"]+", re.IGNORECASE), rf"\1={REDACTED}"),
    # Dicts and JSON: 'refresh_token': '...', "token": "..."
    (re.compile(rf"([\"']({_KEYS})[\"']\s*:\s*[\"'])[^\"']+", re.IGNORECASE), rf"\1{REDACTED}"),
    # Discord interaction and webhook tokens in URL paths.
    (re.compile(r"(/(?:interactions|webhooks)/\d+/)[\w.-]+"), rf"\1{REDACTED}"),
    # Passwords in URLs (database URLs).
    (re.compile(r"(\b[a-z][\w+.-]*://[^/\s:@]+:)[^@\s/]+@", re.IGNORECASE), rf"\1{REDACTED}@"),
    # Spotify access and refresh tokens and codes, whatever surrounds them.
    (re.compile(r"\b(?:BQ|AQ)[A-Za-z0-9_-]{60,}"), REDACTED),
    # JWTs (the Hatchet API token).
    (re.compile(r"\beyJ[\w-]{8,}\.eyJ[\w-]{8,}\.[\w-]+"), REDACTED),
)


class RedactingFilter(logging.Filter):
    """Rewrites a record's text without its secrets; never drops a record."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        known = {s for s in secrets if len(s) >= _MIN_SECRET_LENGTH}
        # Longest first, so a secret containing another is replaced whole.
        self._secrets = sorted(known, key=len, reverse=True)

    def redact(self, text: str) -> str:
        """`text` with every known secret and every secret-shaped value replaced."""
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        for pattern, replacement in _PATTERNS:
            text = pattern.sub(replacement, text)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        """Format the message now (arguments may hold secrets) and keep only its redaction."""
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string still gets logged, redacted
            message = f"{record.msg!r} {record.args!r}"
        record.msg, record.args = self.redact(message), ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


def settings_secrets(settings: Settings) -> list[str]:
    """The secret values an operator configured (each key of a key list on its own)."""
    values = [
        secret.get_secret_value()
        for secret in (
            settings.discord_token,
            settings.spotify_client_secret,
            settings.hatchet_client_token,
        )
        if secret is not None
    ]
    if settings.token_encryption_keys is not None:
        values += [k.strip() for k in settings.token_encryption_keys.get_secret_value().split(",")]
    try:
        password = make_url(settings.database_url).password
    except ArgumentError:
        password = None
    if password:
        values.append(str(password))
    return values


def install_redaction(secrets: Iterable[str] = ()) -> RedactingFilter:
    """Put one redacting filter on every handler there is, and on every record made later.

    The record factory covers handlers added after start-up (Hatchet adds one per task run
    to forward its logs to the engine; it copies the root handlers' filters too).
    """
    redacting = RedactingFilter(secrets)
    loggers = [logging.getLogger()] + [
        logger
        for logger in logging.Logger.manager.loggerDict.values()
        if isinstance(logger, logging.Logger)
    ]
    for logger in loggers:
        for handler in logger.handlers:
            if not any(isinstance(f, RedactingFilter) for f in handler.filters):
                handler.addFilter(redacting)
    previous: Callable[..., logging.LogRecord] = logging.getLogRecordFactory()

    def redacted_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        redacting.filter(record)
        return record

    logging.setLogRecordFactory(redacted_record)
    return redacting


def cap_leaky_loggers(level: int | str) -> None:
    """Never below INFO for the loggers that dump requests, whatever LOG_LEVEL says."""
    floor = max(logging.getLevelName(level) if isinstance(level, str) else level, logging.INFO)
    for name in LEAKY_LOGGERS:
        logging.getLogger(name).setLevel(floor)


def configure_logging(settings: Settings) -> None:
    """The logging of `python -m bot` and `python -m workflows`."""
    logging.basicConfig(level=settings.log_level, format=LOG_FORMAT)
    cap_leaky_loggers(settings.log_level)
    install_redaction(settings_secrets(settings))
