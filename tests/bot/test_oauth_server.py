"""/link in the browser, over HTTP: our page before Spotify, Spotify's dialog, the callback.

Each member's browser is a `Browser` with its own cookie jar, so "the same browser" and
"another browser" mean what they mean for a person.
"""

from __future__ import annotations

import asyncio
import os
import random
import resource
import sys
import time
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from hatchet_sdk import Hatchet
from sqlalchemy import select, text

from bot.client import MixtapeBot
from bot.oauth_server import COOKIE_PREFIX
from bot.services import BotServices
from fakes.browser import Browser, Page
from fakes.interactions import MANAGE_GUILD, FakeUser, InteractionDriver
from fakes.spotify import FakeSpotify
from music.spotify import code_challenge
from storage import accounts
from storage.models import Account, LinkWaitlistEntry
from storage.types import utcnow
from tests.bot.support import Member, http_get, link_url, offline_hatchet


@pytest.fixture
def dispatch_hatchet() -> Hatchet:
    """These tests dispatch no run: a client that never connects, so no engine starts."""
    return offline_hatchet()


TOKEN_ROUTE = "POST /api/token"
AUTHORIZE_ROUTE = "GET /authorize"


async def start_link(driver: InteractionDriver, member: Member | None = None) -> str:
    """Run /link as the member and return the URL from the private reply."""
    handle = await driver.slash("link", user=member.user if member else None)
    reply = await handle.response()
    assert reply.ephemeral
    return link_url(reply.data)


async def to_spotify(browser: Browser, url: str) -> Page:
    """Open our page and press its button: the redirect to Spotify's consent dialog."""
    ours = await browser.open(url)
    assert ours.status == 200, ours.text
    pressed = await browser.submit(ours)
    assert pressed.status == 303, pressed.text
    return pressed


async def link_in_browser(
    browser: Browser, fake: FakeSpotify, url: str, spotify_user: str, *, deny: bool = False
) -> Page:
    """A whole /link in one browser: our page, its button, Spotify's dialog answered as
    `spotify_user`, and the page our callback shows."""
    pressed = await to_spotify(browser, url)
    back = await browser.open(fake.consent_url(pressed.location, spotify_user, deny=deny))
    assert back.status == 302, back.text
    return await browser.follow(back)


async def browse(browser: Browser, url: str) -> list[Page]:
    """Open `url` and follow redirects as a browser does, clicking nothing."""
    pages = [await browser.open(url)]
    while 300 <= pages[-1].status < 400 and len(pages) < 10:
        pages.append(await browser.follow(pages[-1]))
    return pages


def ours_only(cookies: dict[str, str]) -> dict[str, str]:
    """Mixtape's cookies (both servers are on 127.0.0.1, and cookies ignore the port)."""
    return {name: value for name, value in cookies.items() if name.startswith(COOKIE_PREFIX)}


async def account_rows(services: BotServices) -> list[Account]:
    async with services.sessions.begin() as session:
        return list((await session.scalars(select(Account))).all())


async def links(services: BotServices) -> list[tuple[int, str]]:
    return sorted((r.discord_user_id, r.spotify_user_id) for r in await account_rows(services))


def plaintext_refresh_tokens(fake: FakeSpotify, spotify_user: str) -> list[str]:
    return [t for t, grant in fake.refresh_tokens.items() if grant.user_id == spotify_user]


async def test_link_happy_path_stores_an_encrypted_grant(
    driver: InteractionDriver, fake_spotify: FakeSpotify, services: BotServices, alice: Member
) -> None:
    url = await start_link(driver)
    callback = urlsplit(services.settings.spotify_redirect_uri)
    assert url.startswith(f"{callback.scheme}://{callback.netloc}/spotify/link?state=")

    async with Browser() as browser:
        ours = await browser.open(url)
        assert ours.status == 200
        assert "Link Spotify to @alice?" in ours.text and "a Discord server" in ours.text
        assert "Continue to Spotify" in ours.text
        pressed = await browser.submit(ours)
        [verifier] = ours_only(browser.cookies(services.settings.spotify_redirect_uri)).values()
        query = parse_qs(urlsplit(pressed.location).query)
        back = await browser.open(fake_spotify.consent_url(pressed.location, "ada"))
        page = await browser.follow(back)
        left = ours_only(browser.cookies(services.settings.spotify_redirect_uri))

    assert pressed.location.startswith(fake_spotify.authorize_url)
    assert query["redirect_uri"] == [services.settings.spotify_redirect_uri]
    asked = set(query["scope"][0].split())
    assert asked >= {"playlist-read-private", "playlist-modify-private", "user-read-private"}
    assert len(query["state"][0]) >= 40
    assert query["show_dialog"] == ["true"]
    assert query["code_challenge_method"] == ["S256"]
    assert query["code_challenge"] == [code_challenge(verifier)]
    assert page.status == 200
    assert "Linked as Ada Lovelace: the Discord member @alice now uses this Spotify" in page.text
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert left == {}  # the browser's verifier is spent with the state
    [row] = await account_rows(services)
    assert (row.discord_user_id, row.spotify_user_id, row.display_name) == (
        alice.id,
        "ada",
        "Ada Lovelace",
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
    async with Browser() as browser:
        first = await link_in_browser(browser, fake_spotify, await start_link(driver), "ada")
        assert first.status == 200
        rows = await account_rows(services)
        before = [(r.spotify_user_id, r.refresh_token_encrypted) for r in rows]

        replay = await browser.open(first.url)

    assert replay.status == 400
    assert "Link already used" in replay.text and "nothing changed" in replay.text
    after = [(r.spotify_user_id, r.refresh_token_encrypted) for r in await account_rows(services)]
    assert after == before
    assert fake_spotify.count(TOKEN_ROUTE) == 1  # the replayed code was never exchanged


async def test_expired_state_is_refused(
    bot: MixtapeBot, driver: InteractionDriver, fake_spotify: FakeSpotify, services: BotServices
) -> None:
    async with Browser() as browser:
        pressed = await to_spotify(browser, await start_link(driver))
        back = await browser.open(fake_spotify.consent_url(pressed.location, "ada"))
        ttl = services.settings.oauth_state_ttl_seconds
        bot.oauth_server.clock = lambda: utcnow() + timedelta(seconds=ttl + 1)

        page = await browser.follow(back)

    assert page.status == 400
    assert "Link expired" in page.text and "10 minutes" in page.text
    assert await account_rows(services) == []
    assert fake_spotify.count(TOKEN_ROUTE) == 0


async def test_foreign_state_is_refused(
    bot: MixtapeBot, fake_spotify: FakeSpotify, services: BotServices
) -> None:
    # "Foreign" = a state this install never issued: minted by another Mixtape (another
    # database), guessed, or forged. Spotify still redirects here with a valid code.
    url = services.spotify.authorize_url(
        "state-from-another-mixtape-install-000000000", code_challenge("v" * 64)
    )

    status, page, _ = await http_get(fake_spotify.consent(url, "ada"))

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
    async with Browser() as browser:
        url = await start_link(driver)
        page = await link_in_browser(browser, fake_spotify, url, "ada", deny=True)

        assert page.status == 200
        assert "didn't allow Mixtape" in page.text and "nothing changed" in page.text
        assert await account_rows(services) == []
        # Nothing changed indeed: the state is still unspent, so agreeing now still works.
        assert (await link_in_browser(browser, fake_spotify, url, "ada")).status == 200
    assert [r.discord_user_id for r in await account_rows(services)] == [alice.id]


async def test_names_are_escaped_on_the_pages(
    driver: InteractionDriver, fake_spotify: FakeSpotify
) -> None:
    fake_spotify.add_user("mallory", "<script>alert(1)</script>")
    member = Member(FakeUser(random.randrange(10**17, 10**18), "<b>bob</b>"), "mallory")

    async with Browser() as browser:
        url = await start_link(driver, member)
        ours = await browser.open(url)
        page = await link_in_browser(browser, fake_spotify, url, "mallory")

    assert "<b>bob" not in ours.text and "to @&lt;b&gt;bob&lt;/b&gt;?" in ours.text
    assert "<script>alert" not in page.text
    assert "Linked as &lt;script&gt;alert(1)&lt;/script&gt;:" in page.text


async def test_development_mode_refusal_explains_and_waitlists(
    driver: InteractionDriver,
    fake_spotify: FakeSpotify,
    services: BotServices,
    alice: Member,
    bob: Member,
    guild_id: int,
) -> None:
    fake_spotify.set_development_mode(["bob"])
    async with Browser() as browser:
        page = await link_in_browser(browser, fake_spotify, await start_link(driver), "ada")

    assert page.status == 403
    assert "development mode" in page.text
    assert "Spotify Developer Dashboard" in page.text and "User Management" in page.text
    assert "extended quota" in page.text and "/waitlist" in page.text
    assert await account_rows(services) == []
    async with services.sessions.begin() as session:
        [entry] = (await session.scalars(select(LinkWaitlistEntry))).all()
    assert (entry.discord_user_id, entry.guild_id, entry.display_name, entry.attempts) == (
        alice.id,
        guild_id,
        "alice",
        1,
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
    async with Browser() as browser:
        page = await link_in_browser(browser, fake_spotify, await start_link(driver), "ada")
    assert page.status == 200
    async with services.sessions.begin() as session:
        assert (await session.scalars(select(LinkWaitlistEntry))).all() == []
        assert await accounts.get_account(session, alice.id) is not None


# ------------------------------------------------------------------ who a link binds


async def test_a_forwarded_link_url_cannot_link_the_openers_spotify_to_its_author(
    driver: InteractionDriver,
    fake_spotify: FakeSpotify,
    services: BotServices,
    alice: Member,
    bob: Member,
) -> None:
    async with Browser() as bobs_browser:
        # Bob linked his own Spotify in this browser: it stays signed in to Spotify, and
        # Spotify remembers that he approved Mixtape.
        bobs_url = await start_link(driver, bob)
        assert (await link_in_browser(bobs_browser, fake_spotify, bobs_url, "bob")).status == 200

        # Alice runs /link and sends the URL to Bob ("can you open this?"); he opens it.
        pages = await browse(bobs_browser, await start_link(driver, alice))

        # He sees a page of ours naming Alice, which waits for a click: nothing happened.
        [ours] = pages
        assert ours.status == 200 and "Link Spotify to @alice?" in ours.text
        assert "If someone sent you this link, close this tab" in ours.text
        assert await links(services) == [(bob.id, "bob")]
        assert fake_spotify.count(AUTHORIZE_ROUTE) == 1  # his own link's, only

        # Should he click on anyway, Spotify asks him (no silent redirect for a signed-in
        # browser), and agreeing links nothing: his Spotify account is his own link.
        pressed = await bobs_browser.submit(ours)
        dialog = await bobs_browser.follow(pressed)
        assert dialog.status == 200 and "Agree as" in dialog.text
        back = await bobs_browser.open(fake_spotify.consent_url(pressed.location, "bob"))
        refused = await bobs_browser.follow(back)

    assert refused.status == 409
    assert "The Spotify account Bob is linked to another Discord member" in refused.text
    assert await links(services) == [(bob.id, "bob")]


async def test_a_forwarded_spotify_url_cannot_be_finished_in_another_browser(
    driver: InteractionDriver,
    fake_spotify: FakeSpotify,
    services: BotServices,
    alice: Member,
) -> None:
    # Alice presses our page's button, then sends the Spotify address she landed on to Cy.
    async with Browser() as alices_browser, Browser() as cys_browser:
        url = await start_link(driver, alice)
        pressed = await to_spotify(alices_browser, url)

        back = await cys_browser.open(fake_spotify.consent_url(pressed.location, "cy"))
        refused = await cys_browser.follow(back)

        assert refused.status == 400 and "Finish where you started" in refused.text
        assert await links(services) == []
        assert fake_spotify.count(TOKEN_ROUTE) == 0  # Cy's code was never exchanged

        # Our page in Cy's browser says the link went on elsewhere, and its button refuses.
        elsewhere = await cys_browser.open(url)
        assert elsewhere.status == 409 and "opened in another browser" in elsewhere.text
        again = await cys_browser.submit(await alices_browser.open(url))
        assert again.status == 409 and await links(services) == []

        # Alice's own browser still finishes her link.
        page = await link_in_browser(alices_browser, fake_spotify, url, "ada")
    assert page.status == 200 and await links(services) == [(alice.id, "ada")]


async def test_one_member_per_spotify_account(
    driver: InteractionDriver,
    fake_spotify: FakeSpotify,
    services: BotServices,
    alice: Member,
    bob: Member,
) -> None:
    async with Browser() as browser:
        await link_in_browser(browser, fake_spotify, await start_link(driver, bob), "bob")
    async with Browser() as browser:
        page = await link_in_browser(browser, fake_spotify, await start_link(driver, alice), "bob")

    assert page.status == 409
    assert "a Spotify account can be linked to one member only" in page.text
    assert "/unlink" in page.text
    assert await links(services) == [(bob.id, "bob")]

    # Re-linking one's own account is fine, and so is a member moving to a free account.
    async with Browser() as browser:
        again = await link_in_browser(browser, fake_spotify, await start_link(driver, bob), "bob")
        moved = await link_in_browser(browser, fake_spotify, await start_link(driver, bob), "cy")
    assert (again.status, moved.status) == (200, 200)
    assert await links(services) == [(bob.id, "cy")]


async def test_the_button_only_works_on_our_page(
    driver: InteractionDriver, services: BotServices
) -> None:
    url = await start_link(driver)
    state = parse_qs(urlsplit(url).query)["state"][0]

    async with Browser() as browser:
        for headers in ({}, {"Origin": "https://evil.example"}, {"Origin": "null"}):
            async with browser.session.post(
                url.split("?")[0], data={"state": state}, headers=headers, allow_redirects=False
            ) as response:
                assert response.status == 403, headers
                assert "only works on Mixtape's own page" in await response.text()
        # The state is still unbound: the member's own click goes on to Spotify.
        assert (await to_spotify(browser, url)).status == 303


async def test_a_new_link_replaces_the_pending_one(
    driver: InteractionDriver, fake_spotify: FakeSpotify, services: BotServices, alice: Member
) -> None:
    old = await start_link(driver)
    new = await start_link(driver)

    async with Browser() as browser:
        stale = await browser.open(old)
        page = await link_in_browser(browser, fake_spotify, new, "ada")

    assert stale.status == 400 and "wasn't issued by this Mixtape" in stale.text
    assert page.status == 200 and await links(services) == [(alice.id, "ada")]


# ------------------------------------------------------------------ a hardened server


async def test_pages_cannot_be_framed_and_name_no_server(
    driver: InteractionDriver, services: BotServices, fake_spotify: FakeSpotify
) -> None:
    origin = services.settings.spotify_redirect_uri.rsplit("/", 2)[0]
    async with Browser() as browser:
        answers = [
            await browser.open(await start_link(driver)),
            await browser.open(f"{services.settings.spotify_redirect_uri}?code=x"),
            await browser.open(f"{origin}/nothing-here"),
        ]

    assert [a.status for a in answers] == [200, 400, 404]
    for answer in answers:
        policy = answer.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in policy and "default-src 'none'" in policy
        assert f"form-action 'self' {fake_spotify.accounts_base}" in policy
        assert answer.headers["X-Frame-Options"] == "DENY"
        assert "Server" not in answer.headers


async def test_oversized_requests_are_refused(
    driver: InteractionDriver, services: BotServices
) -> None:
    url = await start_link(driver)
    callback = services.settings.spotify_redirect_uri
    origin = callback.rsplit("/", 2)[0]
    async with Browser() as browser:
        async with browser.session.post(
            url.split("?")[0], data={"state": "x" * 5000}, headers={"Origin": origin}
        ) as big_body:
            assert big_body.status == 413
        long_line = await browser.open(f"{callback}?code={'x' * 5000}")
        assert long_line.status == 400
        many = {f"X-Header-{i}": "1" for i in range(100)}
        async with browser.session.get(url, headers=many) as many_headers:
            assert many_headers.status == 400


#: A small program that opens idle connections (half of them stuck mid-request, as a slow
#: client would) and holds them until its stdin closes.
FLOOD = """
import resource, socket, sys
host, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
_, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # the parent's tight limit is not ours
held = []
for i in range(count):
    s = socket.create_connection((host, port))
    if i % 2:
        s.sendall(b"GET /spotify/callback?state=x HTTP/1.1\\r\\nHost: a")
    held.append(s)
print("ready", flush=True)
sys.stdin.read()
"""


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def test_idle_connections_cannot_starve_the_callback(
    bot: MixtapeBot, driver: InteractionDriver, fake_spotify: FakeSpotify, services: BotServices
) -> None:
    settings = services.settings
    settings.oauth_max_connections, settings.oauth_idle_timeout_seconds = 50, 3.0
    await bot.oauth_server.stop()
    await bot.oauth_server.start()
    url = await start_link(driver)
    baseline = open_fds()
    # Few descriptors to spare, as on a small host: holding every connection would run out.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (baseline + 250, hard))
    flood = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        FLOOD,
        settings.oauth_bind_host,
        str(settings.oauth_bind_port),
        "300",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert flood.stdout is not None
        assert await asyncio.wait_for(flood.stdout.readline(), 30) == b"ready\n"

        started = time.monotonic()
        async with Browser(timeout=5) as browser:
            page = await link_in_browser(browser, fake_spotify, url, "ada")
        took = time.monotonic() - started
        held = open_fds() - baseline

        assert page.status == 200 and "Linked as Ada Lovelace" in page.text
        assert took < 2.0, took  # served at once, not after the idle timeout
        assert held <= 50 + 5, held  # the cap, not one descriptor per connection

        await asyncio.sleep(settings.oauth_idle_timeout_seconds + 1)
        assert open_fds() - baseline <= 5  # idle connections are closed, not kept for an hour
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        if flood.returncode is None:
            flood.kill()
        await flood.wait()
