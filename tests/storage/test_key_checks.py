"""Key check values: keys that cannot read the stored tokens are refused at start-up, a new
key is recorded, and after a rotation the old key may go."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.accounts import get_tokens, reencrypt_all_tokens, save_linked_account
from storage.crypto import TokenCipher, fingerprint, generate_key
from storage.key_checks import KeyCheckFailed, forget_other_keys, verify_keys
from storage.models import KeyCheck

Sessions = async_sessionmaker[AsyncSession]
USER = 123_456_789_012_345_678


async def _link(sessions: Sessions, cipher: TokenCipher) -> None:
    async with sessions.begin() as session:
        await save_linked_account(
            session,
            cipher,
            discord_user_id=USER,
            spotify_user_id="ada",
            refresh_token="refresh-plaintext",
            scopes=["playlist-modify-private"],
            access_token="access-plaintext",
        )


async def _verify(sessions: Sessions, *keys: str) -> None:
    async with sessions.begin() as session:
        await verify_keys(session, TokenCipher(list(keys)))


async def _recorded(sessions: Sessions) -> set[str]:
    async with sessions.begin() as session:
        return set((await session.scalars(select(KeyCheck.fingerprint))).all())


async def test_a_wrong_key_is_refused_and_the_right_one_recorded(sessions: Sessions) -> None:
    right, wrong = generate_key(), generate_key()
    await _link(sessions, TokenCipher([right]))  # stored before key checks existed

    with pytest.raises(KeyCheckFailed, match="decrypts none of the 1 stored Spotify tokens"):
        await _verify(sessions, wrong)
    assert await _recorded(sessions) == set()
    await _verify(sessions, right)
    with pytest.raises(KeyCheckFailed) as refused:
        await _verify(sessions, wrong)

    assert await _recorded(sessions) == {fingerprint(right)}
    message = str(refused.value)
    assert f"lacks the key with fingerprint {fingerprint(right)}" in message
    assert fingerprint(wrong) in message and right not in message and wrong not in message


async def test_an_empty_database_takes_any_key_and_keeps_to_it(sessions: Sessions) -> None:
    first, other = generate_key(), generate_key()

    await _verify(sessions, first)
    await _verify(sessions, first)  # and again: nothing changes

    assert await _recorded(sessions) == {fingerprint(first)}
    with pytest.raises(KeyCheckFailed):
        await _verify(sessions, other)


async def test_after_a_rotation_the_old_key_may_go(sessions: Sessions) -> None:
    old, new = generate_key(), generate_key()
    await _verify(sessions, old)
    await _link(sessions, TokenCipher([old]))

    await _verify(sessions, new, old)  # the new key rotated in: recorded beside the old
    assert await _recorded(sessions) == {fingerprint(old), fingerprint(new)}
    with pytest.raises(KeyCheckFailed, match=fingerprint(old)):
        await _verify(sessions, new)  # dropped too early: tokens still need it
    async with sessions.begin() as session:  # what `python -m storage.rotate_keys` does
        await reencrypt_all_tokens(session, TokenCipher([new, old]))
        assert await forget_other_keys(session, TokenCipher([new, old])) == [fingerprint(old)]
    await _verify(sessions, new)

    assert await _recorded(sessions) == {fingerprint(new)}
    async with sessions.begin() as session:
        tokens = await get_tokens(session, TokenCipher([new]), USER)
    assert tokens is not None and tokens.refresh_token == "refresh-plaintext"
