"""Key check values: a process refuses to start with keys that cannot read the stored tokens.

A valid but wrong `TOKEN_ENCRYPTION_KEYS` used to start fine, and then every member saw an
error. Now the database holds, for every key tokens may be encrypted under, a known text
encrypted with that key and named by the key's fingerprint (`key_checks`). At start-up the
bot and the worker check that each of those keys is configured and decrypts its check
value; the current (first) key gets its row on first use. `python -m storage.rotate_keys`
re-encrypts every token under the current key and forgets the other rows, so the old keys
can then be dropped.
"""

from __future__ import annotations

import logging

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage._sql import dialect_insert
from storage.crypto import TokenCipher, TokenDecryptError, TokenKeyError
from storage.engine import create_engine, make_sessionmaker
from storage.migrate import upgrade_to_head
from storage.models import Account, KeyCheck
from storage.types import utcnow

log = logging.getLogger(__name__)

CHECK_TEXT = "mixtape key check"


class KeyCheckFailed(TokenKeyError):
    """The configured keys cannot read what the database holds; the message says which."""


async def check_database_keys(database_url: str, cipher: TokenCipher) -> None:
    """A process's start-up check: migrate, then `verify_keys` in one transaction."""
    await upgrade_to_head(database_url)
    engine = create_engine(database_url)
    try:
        async with make_sessionmaker(engine).begin() as session:
            await verify_keys(session, cipher)
    finally:
        await engine.dispose()


async def verify_keys(session: AsyncSession, cipher: TokenCipher) -> None:
    """Refuse (KeyCheckFailed) unless every key the stored tokens may use is configured and
    right; then record the current key's check value if it has none yet.

    On the first start with key checks every configured key is recorded: tokens may be
    under any of them, until `python -m storage.rotate_keys` says otherwise.
    """
    rows = list((await session.scalars(select(KeyCheck))).all())
    if not rows:
        await _check_stored_tokens(session, cipher)
        for key in cipher.fingerprints:
            await _record(session, cipher, key)
        return
    for row in rows:
        if row.fingerprint not in cipher.fingerprints:
            raise KeyCheckFailed(
                f"TOKEN_ENCRYPTION_KEYS lacks the key with fingerprint {row.fingerprint}, "
                "which stored tokens may be encrypted with (configured: "
                f"{', '.join(cipher.fingerprints)}). Put that key back (after the new one), "
                "start again, and run `python -m storage.rotate_keys` before dropping it."
            )
        try:
            cipher.decrypt_with(row.fingerprint, row.check_value)
        except TokenDecryptError as exc:
            raise KeyCheckFailed(
                f"The key with fingerprint {row.fingerprint} does not decrypt its key check "
                "value: the key_checks table does not belong to these keys."
            ) from exc
    if cipher.fingerprints[0] not in {row.fingerprint for row in rows}:
        await _record(session, cipher, cipher.fingerprints[0])  # a new key, rotated in


async def _record(session: AsyncSession, cipher: TokenCipher, key: str) -> None:
    """The key's check value (a process starting at the same time may record it too)."""
    await session.execute(
        dialect_insert(session, KeyCheck)
        .values(
            fingerprint=key, check_value=cipher.encrypt_with(key, CHECK_TEXT), created_at=utcnow()
        )
        .on_conflict_do_nothing(index_elements=["fingerprint"])
    )
    log.info("token encryption key %s recorded", key)


async def forget_other_keys(session: AsyncSession, cipher: TokenCipher) -> list[str]:
    """After every token was re-encrypted under the current key: the other keys are no longer
    needed. Returns their fingerprints."""
    current = cipher.fingerprints[0]
    gone = await session.scalars(
        delete(KeyCheck).where(KeyCheck.fingerprint != current).returning(KeyCheck.fingerprint)
    )
    return sorted(gone.all())


async def _check_stored_tokens(session: AsyncSession, cipher: TokenCipher) -> None:
    """Before any check value exists (a database from before key checks): the configured
    keys must read the stored tokens. None readable means wrong keys; a few unreadable ones
    (a key dropped too early, long ago) only cost those members a new /link."""
    tokens = list((await session.scalars(select(Account.refresh_token_encrypted))).all())
    unreadable = 0
    for token in tokens:
        try:
            cipher.decrypt(token)
        except TokenDecryptError:
            unreadable += 1
    if tokens and unreadable == len(tokens):
        raise KeyCheckFailed(
            f"TOKEN_ENCRYPTION_KEYS decrypts none of the {len(tokens)} stored Spotify tokens: "
            "these are not the keys they were encrypted with. Configure the right key (a new "
            "one goes first, the old ones after it)."
        )
    if unreadable:
        log.warning(
            "%d of %d stored Spotify tokens cannot be decrypted with the configured "
            "keys; those members must /link again",
            unreadable,
            len(tokens),
        )
