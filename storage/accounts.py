"""Linked Spotify accounts; tokens pass through `TokenCipher` at this boundary only."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage._sql import dialect_insert, rowcount
from storage.crypto import TokenCipher
from storage.errors import StorageError
from storage.models import Account
from storage.types import utcnow


class SpotifyAccountTaken(StorageError):
    """Another Discord member has linked this Spotify account.

    Raised from the unique index on `spotify_user_id`, so two members linking the same
    Spotify account at the same instant end with one link and this error.
    """

    def __init__(self, spotify_user_id: str) -> None:
        super().__init__(f"Spotify account {spotify_user_id} is linked to another member")
        self.spotify_user_id = spotify_user_id


@dataclass(frozen=True, slots=True)
class AccountTokens:
    """Decrypted tokens for one user, for the Spotify adapter only (never log this)."""

    refresh_token: str
    access_token: str | None
    access_token_expires_at: datetime | None

    def __repr__(self) -> str:
        return f"AccountTokens(expires_at={self.access_token_expires_at!r}, <redacted>)"


async def save_linked_account(
    session: AsyncSession,
    cipher: TokenCipher,
    *,
    discord_user_id: int,
    spotify_user_id: str,
    refresh_token: str,
    scopes: Sequence[str],
    display_name: str | None = None,
    country: str | None = None,
    access_token: str | None = None,
    access_token_expires_at: datetime | None = None,
) -> Account:
    """Link (or re-link) a Discord user to a Spotify account after the OAuth callback.

    Raises SpotifyAccountTaken when another member has this Spotify account linked.
    """
    now = utcnow()
    values = {
        "discord_user_id": discord_user_id,
        "spotify_user_id": spotify_user_id,
        "display_name": display_name,
        "refresh_token_encrypted": cipher.encrypt(refresh_token),
        "access_token_encrypted": cipher.encrypt(access_token) if access_token else None,
        "access_token_expires_at": access_token_expires_at if access_token else None,
        "scopes": list(scopes),
        "country": country,
        "updated_at": now,
    }
    stmt = dialect_insert(session, Account).values(created_at=now, **values)
    stmt = stmt.on_conflict_do_update(index_elements=["discord_user_id"], set_=values)
    try:
        async with session.begin_nested():  # a savepoint: the violation leaves the rest intact
            await session.execute(stmt)
    except IntegrityError as exc:  # the upsert covers discord_user_id: only the Spotify id
        raise SpotifyAccountTaken(spotify_user_id) from exc
    account = await session.get(Account, discord_user_id, populate_existing=True)
    assert account is not None
    return account


async def get_account(session: AsyncSession, discord_user_id: int) -> Account | None:
    """The linked account, or None when the user has not run /link."""
    return await session.get(Account, discord_user_id, populate_existing=True)


async def claim_relink_request(
    session: AsyncSession, discord_user_id: int, missing_scope: str
) -> bool:
    """True once per account whose grant lacks `missing_scope`: the caller asks the member
    to /link again. Later calls, from any process, answer False."""
    account = await get_account(session, discord_user_id)
    if account is None or missing_scope in account.scopes:
        return False
    claimed = await session.execute(
        update(Account)
        .where(Account.discord_user_id == discord_user_id, Account.relink_asked_at.is_(None))
        .values(relink_asked_at=utcnow())
    )
    return rowcount(claimed) == 1


async def get_tokens(
    session: AsyncSession, cipher: TokenCipher, discord_user_id: int
) -> AccountTokens | None:
    """Decrypted tokens of a linked user, or None when not linked."""
    account = await get_account(session, discord_user_id)
    return None if account is None else tokens_of(account, cipher)


def tokens_of(account: Account, cipher: TokenCipher) -> AccountTokens:
    """An account row's tokens, decrypted: for a caller that has read the row already."""
    access = account.access_token_encrypted
    return AccountTokens(
        refresh_token=cipher.decrypt(account.refresh_token_encrypted),
        access_token=cipher.decrypt(access) if access is not None else None,
        access_token_expires_at=account.access_token_expires_at,
    )


async def store_access_token(
    session: AsyncSession,
    cipher: TokenCipher,
    discord_user_id: int,
    access_token: str,
    expires_at: datetime,
) -> bool:
    """Cache a refreshed access token; False when the user unlinked meanwhile."""
    stmt = (
        update(Account)
        .where(Account.discord_user_id == discord_user_id)
        .values(
            access_token_encrypted=cipher.encrypt(access_token),
            access_token_expires_at=expires_at,
            updated_at=utcnow(),
        )
    )
    return rowcount(await session.execute(stmt)) == 1


async def store_rotated_refresh_token(
    session: AsyncSession, cipher: TokenCipher, discord_user_id: int, refresh_token: str
) -> bool:
    """Keep the new refresh token Spotify may return on refresh; the old one may stop working."""
    stmt = (
        update(Account)
        .where(Account.discord_user_id == discord_user_id)
        .values(refresh_token_encrypted=cipher.encrypt(refresh_token), updated_at=utcnow())
    )
    return rowcount(await session.execute(stmt)) == 1


async def unlink_account(session: AsyncSession, discord_user_id: int) -> bool:
    """Forget the account and its tokens (/unlink); False when nothing was linked."""
    stmt = delete(Account).where(Account.discord_user_id == discord_user_id)
    return rowcount(await session.execute(stmt)) == 1


async def list_linked_user_ids(
    session: AsyncSession, discord_user_ids: Sequence[int] | None = None
) -> list[int]:
    """Which users (of those given, or all) have a linked account."""
    stmt = select(Account.discord_user_id).order_by(Account.discord_user_id)
    if discord_user_ids is not None:
        stmt = stmt.where(Account.discord_user_id.in_(list(discord_user_ids)))
    return list((await session.scalars(stmt)).all())


async def reencrypt_all_tokens(session: AsyncSession, cipher: TokenCipher) -> int:
    """Re-encrypt every stored token under the current key (after adding a new first key)."""
    accounts = (await session.scalars(select(Account).order_by(Account.discord_user_id))).all()
    for account in accounts:
        account.refresh_token_encrypted = cipher.rotate(account.refresh_token_encrypted)
        if account.access_token_encrypted is not None:
            account.access_token_encrypted = cipher.rotate(account.access_token_encrypted)
    await session.flush()
    return len(accounts)
