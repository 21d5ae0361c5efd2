"""Encryption at rest for OAuth tokens, with key rotation.

`TOKEN_ENCRYPTION_KEYS` holds comma-separated Fernet keys: the first encrypts, every key
decrypts. To rotate, put a new key first, restart, run `python -m storage.rotate_keys`
(which rewrites every token under the new key), then drop the old ones. Keys are named by
a fingerprint (a hash of the key, safe to show and store); `storage.key_checks` uses it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from pydantic import SecretStr


class TokenKeyError(ValueError):
    """No usable encryption key is configured; the message says how to make one."""


class TokenDecryptError(ValueError):
    """A stored token was not made with any configured key (key dropped too early?)."""


def generate_key() -> str:
    """A fresh Fernet key, for `.env` (`python -m storage.crypto` prints one)."""
    return Fernet.generate_key().decode("ascii")


def fingerprint(key: str | bytes) -> str:
    """A key's public name: 16 hex digits of its SHA-256 (reveals nothing of the key)."""
    raw = key.encode("ascii") if isinstance(key, str) else key
    return hashlib.sha256(b"mixtape token key:" + raw.strip()).hexdigest()[:16]


class TokenCipher:
    """Fernet over every configured key: encrypt with the first, decrypt with any."""

    def __init__(self, keys: Sequence[str | bytes]) -> None:
        if not keys:
            raise TokenKeyError(
                "TOKEN_ENCRYPTION_KEYS is not set: generate a key with "
                "`python -m storage.crypto` and put it in the environment or .env"
            )
        fernets: list[Fernet] = []
        for index, key in enumerate(keys, start=1):
            try:
                fernets.append(Fernet(key))
            except (ValueError, TypeError) as exc:
                # Never echo the key itself: it is a secret even when malformed.
                raise TokenKeyError(
                    f"TOKEN_ENCRYPTION_KEYS entry #{index} is not a valid Fernet key "
                    "(32 url-safe base64-encoded bytes)"
                ) from exc
        self._fernet = MultiFernet(fernets)
        #: The keys' fingerprints, in order: the first is the key that encrypts.
        self.fingerprints = tuple(fingerprint(key) for key in keys)
        self._by_fingerprint = dict(zip(self.fingerprints, fernets, strict=True))

    @classmethod
    def from_setting(cls, keys: SecretStr | str | None) -> TokenCipher:
        """Build from the settings value: comma-separated keys, blanks ignored."""
        raw = keys.get_secret_value() if isinstance(keys, SecretStr) else (keys or "")
        return cls([part.strip() for part in raw.split(",") if part.strip()])

    def encrypt(self, plaintext: str) -> bytes:
        """Ciphertext under the current (first) key."""
        return self._fernet.encrypt(plaintext.encode("utf-8"))

    def decrypt(self, token: bytes) -> str:
        """Plaintext from a token made with any configured key."""
        try:
            return self._fernet.decrypt(token).decode("utf-8")
        except InvalidToken as exc:
            raise TokenDecryptError(
                "stored token cannot be decrypted with the configured keys"
            ) from exc

    def encrypt_with(self, key_fingerprint: str, plaintext: str) -> bytes:
        """Ciphertext under the one key of that fingerprint (a key check value)."""
        return self._fernet_of(key_fingerprint).encrypt(plaintext.encode("utf-8"))

    def decrypt_with(self, key_fingerprint: str, token: bytes) -> str:
        """Plaintext from a token made with the one key of that fingerprint."""
        try:
            return self._fernet_of(key_fingerprint).decrypt(token).decode("utf-8")
        except InvalidToken as exc:
            raise TokenDecryptError(
                f"the token was not made with the key of fingerprint {key_fingerprint}"
            ) from exc

    def _fernet_of(self, key_fingerprint: str) -> Fernet:
        fernet = self._by_fingerprint.get(key_fingerprint)
        if fernet is None:
            raise TokenDecryptError(f"no configured key has fingerprint {key_fingerprint}")
        return fernet

    def rotate(self, token: bytes) -> bytes:
        """The same plaintext re-encrypted under the current key."""
        try:
            return self._fernet.rotate(token)
        except InvalidToken as exc:
            raise TokenDecryptError(
                "stored token cannot be decrypted with the configured keys"
            ) from exc


if __name__ == "__main__":
    print(generate_key())
