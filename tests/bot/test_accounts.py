"""`/link` and `/unlink` as a member sees them (the callback itself: test_oauth_server)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from hatchet_sdk import Hatchet
from sqlalchemy import func, select

from bot.services import BotServices
from fakes.browser import Browser
from fakes.discord_api import FakeDiscord
from fakes.interactions import InteractionDriver
from fakes.spotify import FakeSpotify
from music.spotify import REQUIRED_SCOPES, SCOPES
from storage import accounts
from storage.models import OAuthState
from tests.bot.support import (
    DEADLINE_SECONDS,
    EPHEMERAL,
    Member,
    add_entry,
    assert_no_mentions_allowed,
    embed_text,
    import_rows,
    link_directly,
    link_url,
    rate_limit,
)
from tests.bot.test_oauth_server import to_spotify
from tests.bot.test_share import done_thinking
from tests.waiting import async_wait_until
from workflows.contracts import member_rate_limit_key

pytestmark = pytest.mark.engine


async def test_link_answers_privately_with_a_single_use_url(
    driver: InteractionDriver, fake_discord: FakeDiscord, services: BotServices, channel_id: int
) -> None:
    started = time.monotonic()
    reply = await (await driver.slash("link")).response()

    assert reply.at - started < DEADLINE_SECONDS
    assert reply.ephemeral
    # Our page first: it names the member before anyone signs in to Spotify.
    callback = services.settings.spotify_redirect_uri
    assert link_url(reply.data).startswith(callback.removesuffix("callback") + "link?state=")
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


async def link_through_spotify(
    driver: InteractionDriver, fake: FakeSpotify, member: Member, scopes: Sequence[str]
) -> None:
    """/link, consent on Spotify's page to `scopes`, and the browser back on our callback.

    Passing the scopes an earlier Mixtape asked for makes the link that Mixtape would have
    made: only the `scope` parameter of today's consent URL differs.
    """
    reply = await (await driver.slash("link", user=member.user)).response()
    assert member.spotify_id is not None
    async with Browser() as browser:
        pressed = await to_spotify(browser, link_url(reply.data))
        url = urlsplit(pressed.location)
        query = {k: v[0] for k, v in parse_qs(url.query).items()} | {"scope": " ".join(scopes)}
        consent_url = url._replace(query=urlencode(query)).geturl()
        back = await browser.open(fake.consent_url(consent_url, member.spotify_id))
        assert (await browser.follow(back)).status == 200


async def test_a_link_creates_the_members_rate_limit_key_in_the_engine(
    driver: InteractionDriver,
    fake_spotify: FakeSpotify,
    services: BotServices,
    bot_hatchet: Hatchet,
    alice: Member,
) -> None:
    """At /link, not at the member's first task: the engine's scheduler sees a new key only
    at its next refresh, and a task that meets it first waits for that."""
    key = member_rate_limit_key(alice.id)
    assert await rate_limit(bot_hatchet, key) is None

    await link_through_spotify(driver, fake_spotify, alice, SCOPES)

    limit = await async_wait_until(  # created beside the member's page, not before it
        lambda: rate_limit(bot_hatchet, key), timeout=10, message=f"no key {key} in the engine"
    )
    assert limit.limit_value == services.settings.spotify_member_calls_per_minute
    assert limit.value == limit.limit_value  # a full bucket
    assert "minute" in limit.window.lower()


async def test_a_link_made_before_the_country_scope_is_asked_to_link_again_once(
    driver: InteractionDriver,
    fake_discord: FakeDiscord,
    fake_spotify: FakeSpotify,
    services: BotServices,
    alice: Member,
    bob: Member,
    guild_id: int,
) -> None:
    await link_through_spotify(driver, fake_spotify, alice, REQUIRED_SCOPES)
    await link_through_spotify(driver, fake_spotify, bob, SCOPES)
    async with services.sessions.begin() as session:
        old = await accounts.get_account(session, alice.id)
    assert old is not None and "user-read-private" not in old.scopes and old.country is None
    first = await add_entry(services, guild_id, bob.id, "Road", tracks=2)
    second = await add_entry(services, guild_id, bob.id, "Sea", tracks=2)

    asked = await driver.slash("import", {"playlist": f"#{first}"})
    await asked.original(until=done_thinking)
    [ask] = await asked.followups(1)

    assert int(ask["flags"]) & EPHEMERAL
    assert "run `/link` again" in ask["content"] and "country" in ask["content"]
    async with services.sessions.begin() as session:  # once across restarts: it is stored
        asked_row = await accounts.get_account(session, alice.id)
    assert asked_row is not None and asked_row.relink_asked_at is not None

    # The import went ahead (see the rows below). Asked once: Alice's next /import carries
    # no ask, nor does Bob's (his link has the scope).
    later = [
        await driver.slash("import", {"playlist": f"#{second}"}),
        await driver.slash("import", {"playlist": f"#{first}"}, user=bob.user),
    ]
    for handle in later:
        await handle.original(until=done_thinking)
        await handle.finished()
    await asyncio.sleep(0.5)  # the ask would follow each command's completion
    assert [fake_discord.followups(handle.token) for handle in later] == [[], []]
    started = sorted(
        (i.discord_user_id, i.catalog_playlist_id) for i in await import_rows(services)
    )
    assert started == sorted([(alice.id, first), (alice.id, second), (bob.id, first)])
