"""Token encryption: round trip, key rotation, clear errors for missing or bad keys."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr

from storage.crypto import TokenCipher, TokenDecryptError, TokenKeyError, generate_key


def test_round_trip_hides_the_plaintext() -> None:
    cipher = TokenCipher([generate_key()])

    token = cipher.encrypt("refresh-secret")

    assert b"refresh-secret" not in token
    assert cipher.decrypt(token) == "refresh-secret"


def test_rotation_old_key_still_decrypts_and_rotate_moves_to_the_new_key() -> None:
    old_key, new_key = generate_key(), generate_key()
    old_token = TokenCipher([old_key]).encrypt("refresh-secret")
    rotated_cipher = TokenCipher.from_setting(SecretStr(f"{new_key}, {old_key}"))

    assert rotated_cipher.decrypt(old_token) == "refresh-secret"
    rotated = rotated_cipher.rotate(old_token)

    assert Fernet(new_key.encode()).decrypt(rotated) == b"refresh-secret"
    with pytest.raises(TokenDecryptError):
        TokenCipher([old_key]).decrypt(rotated)
    assert TokenCipher([new_key]).decrypt(rotated) == "refresh-secret"


def test_new_tokens_use_the_first_key() -> None:
    first, second = generate_key(), generate_key()
    token = TokenCipher.from_setting(f"{first},{second}").encrypt("x")

    assert TokenCipher([first]).decrypt(token) == "x"
    with pytest.raises(TokenDecryptError):
        TokenCipher([second]).decrypt(token)


@pytest.mark.parametrize("setting", [None, "", " , ", SecretStr("")])
def test_missing_key_is_a_clear_error(setting: SecretStr | str | None) -> None:
    with pytest.raises(TokenKeyError, match="TOKEN_ENCRYPTION_KEYS is not set"):
        TokenCipher.from_setting(setting)


def test_invalid_key_error_does_not_echo_the_key() -> None:
    with pytest.raises(TokenKeyError, match="entry #2") as caught:
        TokenCipher.from_setting(f"{generate_key()},not-a-real-key")

    assert "not-a-real-key" not in str(caught.value)


def test_token_from_an_unknown_key_is_refused() -> None:
    token = TokenCipher([generate_key()]).encrypt("x")

    with pytest.raises(TokenDecryptError):
        TokenCipher([generate_key()]).decrypt(token)
