"""`spotify_access.calls.call_as_member` against the fake Spotify and a real database.

It lives beside the bot tests because the bot is its first user (the worker is next); it
imports nothing from Discord.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import spotipy
from hatchet_sdk import Hatchet
from sqlalchemy import event, text

from bot.services import BotServices
from fakes.spotify import FakeSpotify
from music.errors import Permanent
from spotify_access.calls import LinkExpired, NotLinked, NotRegistered, call_as_member
from storage import accounts
from tests.bot.support import Member, link_directly, offline_hatchet

TOKEN_ROUTE = "POST /api/token"


@pytest.fixture
def dispatch_hatchet() -> Hatchet:
    """These tests dispatch no run: a client that never connects, so no engine starts."""
    return offline_hatchet()


def me_id(sp: spotipy.Spotify) -> str:
    data: dict[str, Any] = sp.me()
    return str(data["id"])


async def call(services: BotServices, member: Member, op: Any = me_id) -> Any:
    return await call_as_member(services.sessions, services.cipher, services.spotify, member.id, op)


async def stored_refresh_token(services: BotServices, member: Member) -> tuple[bytes, str]:
    """The raw column and what it decrypts to."""
    async with services.sessions.begin() as session:
        raw = (
            await session.execute(
                text("SELECT refresh_token_encrypted FROM accounts WHERE discord_user_id = :u"),
                {"u": member.id},
            )
        ).one()[0]
    return bytes(raw), services.cipher.decrypt(bytes(raw))


async def let_an_hour_pass(services: BotServices, fake: FakeSpotify, member: Member) -> None:
    """Access tokens expire on Spotify's side and in our record, as after an hour."""
    assert member.spotify_id is not None
    fake.expire_tokens(member.spotify_id)
    async with services.sessions.begin() as session:
        tokens = await accounts.get_tokens(session, services.cipher, member.id)
        assert tokens is not None and tokens.access_token is not None
        past = datetime.now(UTC) - timedelta(seconds=1)
        await accounts.store_access_token(
            session, services.cipher, member.id, tokens.access_token, past
        )


def live_refresh_tokens(fake: FakeSpotify, spotify_user: str) -> list[str]:
    return [
        token
        for token, grant in fake.refresh_tokens.items()
        if grant.user_id == spotify_user and not grant.revoked
    ]


async def test_a_member_without_account_is_not_linked(services: BotServices, carol: Member) -> None:
    with pytest.raises(NotLinked) as raised:
        await call(services, carol)
    assert "/link" in str(raised.value)


async def test_rotated_refresh_token_is_stored_encrypted_and_keeps_working(
    services: BotServices, fake_spotify: FakeSpotify, alice: Member
) -> None:
    fake_spotify.set_refresh_rotation(True)
    await link_directly(services, fake_spotify, alice)
    _, first = await stored_refresh_token(services, alice)
    await let_an_hour_pass(services, fake_spotify, alice)

    assert await call(services, alice) == "ada"

    raw, second = await stored_refresh_token(services, alice)
    assert second != first
    assert live_refresh_tokens(fake_spotify, "ada") == [second]  # the old one is dead
    assert second.encode() not in raw
    # The next refresh uses the rotated token: it works only if that one was stored.
    await let_an_hour_pass(services, fake_spotify, alice)
    assert await call(services, alice) == "ada"
    _, third = await stored_refresh_token(services, alice)
    assert third not in (first, second)
    assert fake_spotify.count(TOKEN_ROUTE) == 2
    async with services.sessions.begin() as session:
        tokens = await accounts.get_tokens(session, services.cipher, alice.id)
    assert tokens is not None and tokens.access_token_expires_at is not None
    assert tokens.access_token_expires_at > datetime.now(UTC)


async def test_a_call_with_a_valid_token_reads_the_account_once(
    services: BotServices, fake_spotify: FakeSpotify, alice: Member
) -> None:
    """Every Spotify call of every step reads the grant first: one row read, not two."""
    await link_directly(services, fake_spotify, alice)
    assert await call(services, alice) == "ada"
    refreshes = fake_spotify.count(TOKEN_ROUTE)
    reads: list[str] = []

    def count_reads(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "FROM accounts" in statement:
            reads.append(statement)

    engine = services.sessions.kw["bind"].sync_engine
    event.listen(engine, "before_cursor_execute", count_reads)
    try:
        assert await call(services, alice) == "ada"
    finally:
        event.remove(engine, "before_cursor_execute", count_reads)

    assert len(reads) == 1, reads
    assert fake_spotify.count(TOKEN_ROUTE) == refreshes  # no refresh in the counted call


async def test_a_failing_operation_never_loses_a_rotated_token(
    services: BotServices, fake_spotify: FakeSpotify, alice: Member
) -> None:
    fake_spotify.set_refresh_rotation(True)
    await link_directly(services, fake_spotify, alice)
    await let_an_hour_pass(services, fake_spotify, alice)

    def missing_playlist(sp: spotipy.Spotify) -> object:
        return sp.playlist("0" * 22)

    with pytest.raises(Permanent) as raised:
        await call(services, alice, missing_playlist)

    assert raised.value.status == 404
    _, stored = await stored_refresh_token(services, alice)
    assert live_refresh_tokens(fake_spotify, "ada") == [stored]
    await let_an_hour_pass(services, fake_spotify, alice)
    assert await call(services, alice) == "ada"


async def test_an_access_token_dropped_early_is_refreshed_once(
    services: BotServices, fake_spotify: FakeSpotify, alice: Member
) -> None:
    await link_directly(services, fake_spotify, alice)
    fake_spotify.expire_tokens("ada")  # we still believe it is valid for an hour

    assert await call(services, alice) == "ada"

    assert fake_spotify.count(TOKEN_ROUTE) == 1
    assert fake_spotify.count("GET /v1/me", status=401) == 1


async def test_a_revoked_grant_says_link_again_and_keeps_the_account(
    services: BotServices,
    fake_spotify: FakeSpotify,
    alice: Member,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await link_directly(services, fake_spotify, alice)
    fake_spotify.revoke_refresh_tokens("ada")
    fake_spotify.expire_tokens("ada")

    with (
        caplog.at_level(logging.WARNING, logger="spotify_access.calls"),
        pytest.raises(LinkExpired) as raised,
    ):
        await call(services, alice)

    assert str(raised.value) == "Your Spotify link expired: run /link again."
    assert any(str(alice.id) in record.getMessage() for record in caplog.records)
    async with services.sessions.begin() as session:
        assert await accounts.get_account(session, alice.id) is not None


async def test_a_missing_access_token_is_fetched_first(
    services: BotServices, fake_spotify: FakeSpotify, alice: Member
) -> None:
    grant = fake_spotify.issue_token("ada")
    assert grant.refresh_token is not None
    async with services.sessions.begin() as session:
        await accounts.save_linked_account(
            session,
            services.cipher,
            discord_user_id=alice.id,
            spotify_user_id="ada",
            refresh_token=grant.refresh_token,
            scopes=[
                "playlist-read-private",
                "playlist-read-collaborative",
                "playlist-modify-private",
                "playlist-modify-public",
            ],
        )

    assert await call(services, alice) == "ada"
    async with services.sessions.begin() as session:
        tokens = await accounts.get_tokens(session, services.cipher, alice.id)
    assert tokens is not None and tokens.access_token is not None
    assert tokens.access_token_expires_at is not None
    assert tokens.access_token_expires_at > datetime.now(UTC) + timedelta(minutes=30)


async def test_a_grant_missing_a_scope_asks_for_a_new_link(
    services: BotServices, fake_spotify: FakeSpotify, alice: Member
) -> None:
    grant = fake_spotify.issue_token("ada")
    assert grant.refresh_token is not None
    async with services.sessions.begin() as session:
        await accounts.save_linked_account(
            session,
            services.cipher,
            discord_user_id=alice.id,
            spotify_user_id="ada",
            refresh_token=grant.refresh_token,
            scopes=["playlist-read-private"],
            access_token=grant.access_token,
            access_token_expires_at=datetime.now(UTC) + timedelta(hours=1),
        )

    with pytest.raises(LinkExpired):
        await call(services, alice)
    assert fake_spotify.count() == 0


async def test_development_mode_refusal_is_typed(
    services: BotServices, fake_spotify: FakeSpotify, alice: Member
) -> None:
    await link_directly(services, fake_spotify, alice)
    fake_spotify.set_development_mode([])

    with pytest.raises(NotRegistered):
        await call(services, alice)
