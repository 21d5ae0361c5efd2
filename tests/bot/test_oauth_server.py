"""The OAuth callback, over HTTP, as a member's browser reaches it after Spotify's consent."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select, text

from bot.client import MixtapeBot
from bot.services import BotServices
from fakes.interactions import MANAGE_GUILD, InteractionDriver
from fakes.spotify import FakeSpotify
from storage import accounts
from storage.models import Account, LinkWaitlistEntry
from storage.types import utcnow
from tests.bot.support import Member, http_get, link_url

pytestmark = pytest.mark.engine

TOKEN_ROUTE = "POST /api/token"


async def start_link(driver: InteractionDriver, member: Member | None = None) -> str:
    """Run /link as the member and return the authorize URL from the private reply."""
    handle = await driver.slash("link", user=member.user if member else None)
    reply = await handle.response()
    assert reply.ephemeral
    return link_url(reply.data)


async def consent(fake: FakeSpotify, url: str, spotify_user: str, *, deny: bool = False) -> str:
    """Spotify's consent page, answered as `spotify_user`; returns where it redirects."""
    return await asyncio.to_thread(fake.consent, url, spotify_user, deny=deny)


async def account_rows(services: BotServices) -> list[Account]:
    async with services.sessions.begin() as session:
        return list((await session.scalars(select(Account))).all())


def plaintext_refresh_tokens(fake: FakeSpotify, spotify_user: str) -> list[str]:
    return [t for t, grant in fake.refresh_tokens.items() if grant.user_id == spotify_user]


async def test_link_happy_path_stores_an_encrypted_grant(
    driver: InteractionDriver, fake_spotify: FakeSpotify, services: BotServices, alice: Member
) -> None:
    url = await start_link(driver)
    query = parse_qs(urlsplit(url).query)
    assert url.startswith(fake_spotify.authorize_url)
    assert query["redirect_uri"] == [services.settings.spotify_redirect_uri]
    asked = set(query["scope"][0].split())
    assert asked >= {"playlist-read-private", "playlist-modify-private", "user-read-private"}
    assert len(query["state"][0]) >= 40

    status, page, headers = await http_get(await consent(fake_spotify, url, "ada"))

    assert status == 200
    assert "Linked as Ada Lovelace. You can close this tab." in page
    assert headers["Cache-Control"] == "no-store"
    assert headers["Referrer-Policy"] == "no-referrer"
    [row] = await account_rows(services)
    assert (row.discord_user_id, row.spotify_user_id, row.display_name) == (
        alice.id, "ada", "Ada Lovelace"
    )
    # What Spotify granted, and the country its /me answers only with user-read-private.
    assert (set(row.scopes), row.country) == (asked, fake_spotify.users["ada"].country)
    [refresh_token] = plaintext_refresh_tokens(fake_spotify, "ada")
    async with services.sessions.begin() as session:
        raw = (await session.execute(text("SELECT refresh_token_encrypted FROM accounts"))).one()
    stored = bytes(raw[0])
    assert refresh_token.encode() not in stored
    assert services.cipher.decrypt(stored) == refresh_token


async def test_replayed_state_is_refused_and_changes_nothing(
    driver: InteractionDriver, fake_spotify: FakeSpotify, services: BotServices
) -> None:
    redirect = await consent(fake_spotify, await start_link(driver), "ada")
    assert (await http_get(redirect))[0] == 200
    before = [(r.spotify_user_id, r.refresh_token_encrypted) for r in await account_rows(services)]

    status, page, _ = await http_get(redirect)

    assert status == 400
    assert "Link already used" in page and "nothing changed" in page
    after = [(r.spotify_user_id, r.refresh_token_encrypted) for r in await account_rows(services)]
    assert after == before
    assert fake_spotify.count(TOKEN_ROUTE) == 1  # the replayed code was never exchanged


async def test_expired_state_is_refused(
    bot: MixtapeBot, driver: InteractionDriver, fake_spotify: FakeSpotify, services: BotServices
) -> None:
    redirect = await consent(fake_spotify, await start_link(driver), "ada")
    ttl = services.settings.oauth_state_ttl_seconds
    bot.oauth_server.clock = lambda: utcnow() + timedelta(seconds=ttl + 1)

    status, page, _ = await http_get(redirect)

    assert status == 400
    assert "Link expired" in page and "10 minutes" in page
    assert await account_rows(services) == []
    assert fake_spotify.count(TOKEN_ROUTE) == 0


async def test_state_links_the_member_who_ran_link_whoever_consents(
    driver: InteractionDriver,
    fake_spotify: FakeSpotify,
    services: BotServices,
    alice: Member,
    bob: Member,
) -> None:
    # Alice's /link URL opened in Bob's browser, Bob signed in to Spotify: the state is
    # bound to Alice, so the link is Alice's (to the Spotify account that consented).
    # It can never land on Bob's Discord account, whatever the browser.
    url = await start_link(driver, alice)

    status, _, _ = await http_get(await consent(fake_spotify, url, "bob"))

    assert status == 200
    rows = await account_rows(services)
    assert [(r.discord_user_id, r.spotify_user_id) for r in rows] == [(alice.id, "bob")]
    assert bob.id not in [r.discord_user_id for r in rows]


async def test_foreign_state_is_refused(
    bot: MixtapeBot, fake_spotify: FakeSpotify, services: BotServices
) -> None:
    # "Foreign" = a state this install never issued: minted by another Mixtape (another
    # database), guessed, or forged. Spotify still redirects here with a valid code.
    url = services.spotify.authorize_url("state-from-another-mixtape-install-000000000")

    status, page, _ = await http_get(await consent(fake_spotify, url, "ada"))

    assert status == 400
    assert "wasn't issued by this Mixtape" in page
    assert await account_rows(services) == []
    assert fake_spotify.count(TOKEN_ROUTE) == 0


async def test_missing_state_is_refused(
    bot: MixtapeBot, fake_spotify: FakeSpotify, services: BotServices
) -> None:
    callback = services.settings.spotify_redirect_uri

    status, page, _ = await http_get(f"{callback}?code=some-code")

    assert status == 400
    assert "missing the part that ties it to your /link" in page
    assert await account_rows(services) == []
    assert fake_spotify.count(TOKEN_ROUTE) == 0


async def test_denied_consent_changes_nothing(
    driver: InteractionDriver, fake_spotify: FakeSpotify, services: BotServices, alice: Member
) -> None:
    url = await start_link(driver)

    status, page, _ = await http_get(await consent(fake_spotify, url, "ada", deny=True))

    assert status == 200
    assert "didn't allow Mixtape" in page and "nothing changed" in page
    assert await account_rows(services) == []
    # Nothing changed indeed: the state is still unspent, so agreeing now still works.
    assert (await http_get(await consent(fake_spotify, url, "ada")))[0] == 200
    assert [r.discord_user_id for r in await account_rows(services)] == [alice.id]


async def test_display_name_is_escaped_on_the_page(
    driver: InteractionDriver, fake_spotify: FakeSpotify
) -> None:
    fake_spotify.add_user("mallory", "<script>alert(1)</script>")

    _, page, _ = await http_get(await consent(fake_spotify, await start_link(driver), "mallory"))

    assert "<script>alert" not in page
    assert "Linked as &lt;script&gt;alert(1)&lt;/script&gt;." in page


async def test_development_mode_refusal_explains_and_waitlists(
    driver: InteractionDriver,
    fake_spotify: FakeSpotify,
    services: BotServices,
    alice: Member,
    bob: Member,
    guild_id: int,
) -> None:
    fake_spotify.set_development_mode(["bob"])
    url = await start_link(driver)

    status, page, _ = await http_get(await consent(fake_spotify, url, "ada"))

    assert status == 403
    assert "development mode" in page
    assert "Spotify Developer Dashboard" in page and "User Management" in page
    assert "extended quota" in page and "/waitlist" in page
    assert await account_rows(services) == []
    async with services.sessions.begin() as session:
        [entry] = (await session.scalars(select(LinkWaitlistEntry))).all()
    assert (entry.discord_user_id, entry.guild_id, entry.display_name, entry.attempts) == (
        alice.id, guild_id, "alice", 1
    )

    # An admin sees Alice waiting; an ordinary member may not look.
    listing = await (await driver.slash("waitlist", permissions=MANAGE_GUILD)).response()
    assert listing.ephemeral
    [embed] = listing.embeds
    assert f"<@{alice.id}>" in embed["fields"][0]["value"]
    assert "User Management" in embed["description"]
    refused = await (await driver.slash("waitlist", user=bob.user)).response()
    assert refused.ephemeral and "Manage Server" in refused.embeds[0]["description"]

    # Once the operator adds her, linking works and she leaves the list.
    fake_spotify.set_development_mode(["bob", "ada"])
    status, _, _ = await http_get(await consent(fake_spotify, await start_link(driver), "ada"))
    assert status == 200
    async with services.sessions.begin() as session:
        assert (await session.scalars(select(LinkWaitlistEntry))).all() == []
        assert await accounts.get_account(session, alice.id) is not None
