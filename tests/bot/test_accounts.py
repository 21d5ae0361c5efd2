"""`/link` and `/unlink` as a member sees them (the callback itself: test_oauth_server)."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select

from bot.services import BotServices
from fakes.discord_api import FakeDiscord
from fakes.interactions import InteractionDriver
from fakes.spotify import FakeSpotify
from storage import accounts
from storage.models import OAuthState
from tests.bot.support import (
    DEADLINE_SECONDS,
    Member,
    assert_no_mentions_allowed,
    embed_text,
    link_directly,
    link_url,
)

pytestmark = pytest.mark.engine


async def test_link_answers_privately_with_a_single_use_url(
    driver: InteractionDriver, fake_discord: FakeDiscord, services: BotServices, channel_id: int
) -> None:
    started = time.monotonic()
    reply = await (await driver.slash("link")).response()

    assert reply.at - started < DEADLINE_SECONDS
    assert reply.ephemeral
    assert link_url(reply.data).startswith(services.settings.spotify_accounts_base)
    text = embed_text(reply.embeds)
    assert "works once" in text and "10 minutes" in text
    assert_no_mentions_allowed(reply.data)
    assert fake_discord.messages(channel_id, include_ephemeral=False) == []
    async with services.sessions.begin() as session:
        assert await session.scalar(select(func.count()).select_from(OAuthState)) == 1


async def test_link_when_linked_says_it_replaces(
    driver: InteractionDriver, services: BotServices, fake_spotify: FakeSpotify, alice: Member
) -> None:
    await link_directly(services, fake_spotify, alice)

    reply = await (await driver.slash("link")).response()

    assert "You are linked as **Ada Lovelace** now" in embed_text(reply.embeds)


async def test_unlink_deletes_the_tokens(
    driver: InteractionDriver, services: BotServices, fake_spotify: FakeSpotify, alice: Member
) -> None:
    await link_directly(services, fake_spotify, alice)

    reply = await (await driver.slash("unlink")).response()

    assert reply.ephemeral
    assert reply.content is not None and reply.content.startswith("Unlinked")
    async with services.sessions.begin() as session:
        assert await accounts.get_account(session, alice.id) is None

    again = await (await driver.slash("unlink")).response()
    assert again.content == "You had no Spotify account linked; nothing to remove."
