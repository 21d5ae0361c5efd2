"""Linked accounts: tokens encrypted at rest, re-link, rotation, unlink."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.accounts import (
    SpotifyAccountTaken,
    get_account,
    get_tokens,
    list_linked_user_ids,
    reencrypt_all_tokens,
    save_linked_account,
    store_access_token,
    store_rotated_refresh_token,
    unlink_account,
)
from storage.crypto import TokenCipher, generate_key
from storage.engine import create_engine
from storage.migrate import alembic_config, upgrade_to_head

USER = 123_456_789_012_345_678  # snowflakes exceed 32 bits
EXPIRES = datetime(2030, 1, 1, tzinfo=UTC)
REFRESH_TOKEN = "refresh-plaintext-1"
ACCESS_TOKEN = "access-plaintext-1"


async def _link(
    session: AsyncSession,
    cipher: TokenCipher,
    *,
    discord_user_id: int = USER,
    spotify_user_id: str = "spotify-user",
    refresh_token: str = REFRESH_TOKEN,
    access_token: str | None = ACCESS_TOKEN,
) -> None:
    await save_linked_account(
        session,
        cipher,
        discord_user_id=discord_user_id,
        spotify_user_id=spotify_user_id,
        refresh_token=refresh_token,
        scopes=["playlist-modify-private", "playlist-read-private"],
        display_name="Ada",
        country="GB",
        access_token=access_token,
        access_token_expires_at=EXPIRES,
    )


async def _raw_token_columns(session: AsyncSession) -> list[bytes]:
    rows = await session.execute(
        text("SELECT refresh_token_encrypted, access_token_encrypted FROM accounts")
    )
    return [bytes(value) for row in rows for value in row if value is not None]


async def test_link_stores_ciphertext_only(
    sessions: async_sessionmaker[AsyncSession], cipher: TokenCipher
) -> None:
    async with sessions.begin() as session:
        await _link(session, cipher)

    async with sessions.begin() as session:
        raw = await _raw_token_columns(session)
        account = await get_account(session, USER)
        tokens = await get_tokens(session, cipher, USER)

    assert len(raw) == 2
    assert all(b"plaintext" not in value for value in raw)
    assert account is not None
    assert account.spotify_user_id == "spotify-user"
    assert account.scopes == ["playlist-modify-private", "playlist-read-private"]
    assert account.country == "GB"
    assert account.created_at.tzinfo is UTC
    assert tokens is not None
    assert tokens.refresh_token == "refresh-plaintext-1"
    assert tokens.access_token == "access-plaintext-1"
    assert tokens.access_token_expires_at == EXPIRES
    assert "plaintext" not in repr(tokens)


async def test_relink_replaces_the_account_in_place(
    sessions: async_sessionmaker[AsyncSession], cipher: TokenCipher
) -> None:
    async with sessions.begin() as session:
        await _link(session, cipher)
    async with sessions.begin() as session:
        first = await get_account(session, USER)

    async with sessions.begin() as session:
        await _link(
            session,
            cipher,
            spotify_user_id="other-spotify",
            refresh_token="refresh-plaintext-2",
            access_token=None,
        )

    async with sessions.begin() as session:
        account = await get_account(session, USER)
        tokens = await get_tokens(session, cipher, USER)
        assert await list_linked_user_ids(session) == [USER]

    assert first is not None and account is not None and tokens is not None
    assert account.spotify_user_id == "other-spotify"
    assert account.created_at == first.created_at
    assert account.updated_at >= first.updated_at
    assert tokens.refresh_token == "refresh-plaintext-2"
    assert tokens.access_token is None
    assert tokens.access_token_expires_at is None


async def test_rotated_refresh_token_and_access_token_cache(
    sessions: async_sessionmaker[AsyncSession], cipher: TokenCipher
) -> None:
    async with sessions.begin() as session:
        await _link(session, cipher)

    async with sessions.begin() as session:
        assert await store_rotated_refresh_token(session, cipher, USER, "refresh-plaintext-2")
        assert await store_access_token(session, cipher, USER, "access-plaintext-2", EXPIRES)
        assert not await store_rotated_refresh_token(session, cipher, 1, "nobody")

    async with sessions.begin() as session:
        tokens = await get_tokens(session, cipher, USER)
        raw = await _raw_token_columns(session)

    assert tokens is not None
    assert (tokens.refresh_token, tokens.access_token) == (
        "refresh-plaintext-2",
        "access-plaintext-2",
    )
    assert all(b"plaintext" not in value for value in raw)


async def test_reencrypt_all_tokens_moves_rows_to_the_new_key(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    old_key, new_key = generate_key(), generate_key()
    async with sessions.begin() as session:
        await _link(session, TokenCipher([old_key]))

    async with sessions.begin() as session:
        assert await reencrypt_all_tokens(session, TokenCipher([new_key, old_key])) == 1

    async with sessions.begin() as session:
        tokens = await get_tokens(session, TokenCipher([new_key]), USER)
    assert tokens is not None
    assert tokens.refresh_token == "refresh-plaintext-1"
    assert tokens.access_token == "access-plaintext-1"


async def test_unlink_deletes_the_tokens(
    sessions: async_sessionmaker[AsyncSession], cipher: TokenCipher
) -> None:
    async with sessions.begin() as session:
        await _link(session, cipher)

    async with sessions.begin() as session:
        assert await unlink_account(session, USER)
        assert not await unlink_account(session, USER)

    async with sessions.begin() as session:
        assert await get_account(session, USER) is None
        assert await get_tokens(session, cipher, USER) is None
        assert await _raw_token_columns(session) == []
        assert not await store_access_token(session, cipher, USER, "late", EXPIRES)


async def test_one_member_per_spotify_account(
    sessions: async_sessionmaker[AsyncSession], cipher: TokenCipher
) -> None:
    other = USER + 1
    async with sessions.begin() as session:
        await _link(session, cipher)

    async with sessions.begin() as session:
        with pytest.raises(SpotifyAccountTaken):
            await _link(session, cipher, discord_user_id=other, refresh_token="refresh-other")
        # The refusal was a savepoint's: the transaction goes on.
        await _link(session, cipher, discord_user_id=other, spotify_user_id="free-account")

    async with sessions.begin() as session:
        mine, theirs = await get_account(session, USER), await get_account(session, other)
        tokens = await get_tokens(session, cipher, USER)
        with pytest.raises(SpotifyAccountTaken):  # nor by moving onto a taken account
            await _link(session, cipher, discord_user_id=other)
    assert mine is not None and mine.spotify_user_id == "spotify-user"
    assert theirs is not None and theirs.spotify_user_id == "free-account"
    assert tokens is not None and tokens.refresh_token == REFRESH_TOKEN


async def test_upgrade_keeps_the_first_link_of_a_shared_spotify_account(database_url: str) -> None:
    def upgrade_to(connection: Connection, revision: str) -> None:
        config = alembic_config(database_url)
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    insert = text(
        "INSERT INTO accounts (discord_user_id, spotify_user_id, refresh_token_encrypted, "
        "scopes, created_at, updated_at) VALUES (:user, :spotify, :token, '[]', :at, :at)"
    )
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(upgrade_to, "0007")
            for user, spotify, day in ((1, "shared", 2), (2, "shared", 1), (3, "own", 3)):
                at = datetime(2030, 1, day, tzinfo=UTC)
                await connection.execute(
                    insert, {"user": user, "spotify": spotify, "token": b"x", "at": at}
                )
        await upgrade_to_head(database_url)
        async with engine.connect() as connection:
            rows = await connection.execute(
                text("SELECT discord_user_id, spotify_user_id FROM accounts ORDER BY 1")
            )
            assert [tuple(row) for row in rows] == [(2, "shared"), (3, "own")]
    finally:
        await engine.dispose()
