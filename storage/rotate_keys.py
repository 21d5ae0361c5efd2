"""`python -m storage.rotate_keys`: re-encrypt every stored token under the newest key.

To replace a token encryption key: put a new key first in TOKEN_ENCRYPTION_KEYS, keeping
the old ones after it; restart the bot and the worker (they record the new key); run this;
then remove the entries it names and restart again. Until this has run, a process without
one of the old keys refuses to start (see `storage.key_checks`).
"""

from __future__ import annotations

import asyncio
import logging
import sys

from mixtape.log_redaction import configure_logging
from mixtape.settings import Settings, get_settings
from storage import accounts, key_checks
from storage.crypto import TokenCipher, TokenDecryptError, TokenKeyError
from storage.engine import create_engine, make_sessionmaker
from storage.migrate import upgrade_to_head

log = logging.getLogger("storage.rotate_keys")


async def rotate(settings: Settings) -> tuple[TokenCipher, int]:
    """Check the keys, re-encrypt every token under the first, forget the others' checks;
    one transaction, so a failure changes nothing. Returns the cipher and the count."""
    cipher = TokenCipher.from_setting(settings.token_encryption_keys)
    await upgrade_to_head(settings.database_url)
    engine = create_engine(settings.database_url)
    try:
        async with make_sessionmaker(engine).begin() as session:
            await key_checks.verify_keys(session, cipher)
            count = await accounts.reencrypt_all_tokens(session, cipher)
            await key_checks.forget_other_keys(session, cipher)
    finally:
        await engine.dispose()
    return cipher, count


def main() -> int:
    """Run the rotation and tell the operator which entries they may now remove."""
    settings = get_settings()
    configure_logging(settings)
    try:
        cipher, count = asyncio.run(rotate(settings))
    except (TokenKeyError, TokenDecryptError) as exc:
        log.error("nothing was changed: %s", exc)
        return 2
    print(
        f"Re-encrypted the Spotify tokens of {count} account(s) under the first key of "
        f"TOKEN_ENCRYPTION_KEYS (fingerprint {cipher.fingerprints[0]})."
    )
    old = [f"#{index}" for index in range(2, len(cipher.fingerprints) + 1)]
    if old:
        print(
            f"Entries {', '.join(old)} of TOKEN_ENCRYPTION_KEYS are no longer needed: remove "
            "them and restart the bot and the worker."
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
