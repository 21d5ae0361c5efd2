"""The pages a member's browser shows around /link: ours before Spotify, and the answers
to Spotify's callback. Every piece of text is HTML-escaped where the page is written.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from storage.oauth_states import LinkRequest


@dataclass(frozen=True)
class Page:
    """A small HTML page for the browser that comes back from Spotify."""

    status: int
    title: str
    paragraphs: tuple[str, ...]

    def html(self) -> str:
        """The document; every piece of text is HTML-escaped here."""
        body = "".join(f"<p>{html.escape(p, quote=False)}</p>" for p in self.paragraphs)
        title = html.escape(self.title, quote=False)
        return (
            "<!doctype html><html lang=en><head><meta charset=utf-8>"
            '<meta name=viewport content="width=device-width, initial-scale=1">'
            f"<title>Mixtape: {title}</title>"
            "<style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;"
            "padding:0 1rem;line-height:1.5}</style></head>"
            f"<body><h1>{title}</h1>{body}</body></html>"
        )


RUN_LINK_AGAIN = "Run /link in Discord again to get a fresh link."


def page_denied() -> Page:
    """The member pressed Cancel on Spotify's consent page."""
    return Page(
        200,
        "Not linked",
        (
            "You didn't allow Mixtape to use your Spotify account, so nothing changed.",
            "If that was a mistake, run /link in Discord again.",
        ),
    )


def page_spotify_error(error: str) -> Page:
    """Spotify sent us back with an error other than a refusal."""
    return Page(400, "Not linked", (f"Spotify reported an error: {error}.", RUN_LINK_AGAIN))


def page_missing_state() -> Page:
    """A callback without `state` did not come from a /link we issued."""
    return Page(
        400,
        "Link not recognised",
        (
            "This address is missing the part that ties it to your /link, so nothing changed.",
            RUN_LINK_AGAIN,
        ),
    )


def page_unknown_state() -> Page:
    """A state we never issued (another install, a typo, a forgery)."""
    return Page(
        400,
        "Link not recognised",
        ("This link wasn't issued by this Mixtape, so nothing changed.", RUN_LINK_AGAIN),
    )


def page_expired_state(ttl_seconds: int) -> Page:
    """A state past its lifetime."""
    return Page(
        400,
        "Link expired",
        (
            f"/link links work for {max(ttl_seconds // 60, 1)} minutes and this one ran out, "
            "so nothing changed.",
            RUN_LINK_AGAIN,
        ),
    )


def page_used_state() -> Page:
    """A replayed state (reload, back button, or someone else reusing it)."""
    return Page(
        400,
        "Link already used",
        (
            "Each /link link works once, and this one was already used, so nothing changed.",
            RUN_LINK_AGAIN,
        ),
    )


def page_missing_code() -> Page:
    """Spotify sent neither a code nor an error."""
    return Page(400, "Not linked", ("Spotify didn't send an authorization code.", RUN_LINK_AGAIN))


def page_code_refused() -> Page:
    """The code was refused by Spotify (expired or already exchanged)."""
    return Page(
        400,
        "Not linked",
        ("Spotify didn't accept this sign-in any more (it may have expired).", RUN_LINK_AGAIN),
    )


def page_spotify_down() -> Page:
    """Spotify did not answer during the exchange."""
    return Page(
        502,
        "Spotify isn't answering",
        (
            "Spotify didn't answer while we finished linking, so nothing changed.",
            "Wait a minute, then run /link in Discord again.",
        ),
    )


def page_not_registered() -> Page:
    """Development mode: only accounts the app's owner added may use it."""
    return Page(
        403,
        "Spotify refused this account",
        (
            "This Mixtape's Spotify app is in development mode. In that mode Spotify serves "
            "only the accounts (at most 5) that the app's owner added by hand, and yours isn't "
            "one of them yet, so nothing was linked.",
            "What the server's operator must do: open the Spotify Developer Dashboard, pick "
            "the app, go to User Management and add the email address of your Spotify "
            "account, or apply for extended quota so that everyone can link.",
            "You are on the waiting list the server's admins see with /waitlist. Once you "
            "are added, run /link in Discord again.",
        ),
    )


def page_unexpected(reference: str) -> Page:
    """A bug; the reference finds it in the logs."""
    return Page(
        500,
        "Something went wrong",
        (
            f"Something went wrong on our side (reference {reference}). Nothing was linked.",
            RUN_LINK_AGAIN,
        ),
    )


@dataclass(frozen=True)
class FormPage(Page):
    """A page with one button that posts `state` back to our page."""

    state: str = ""
    button: str = ""

    def html(self) -> str:
        """The page with its form before the closing body tag."""
        form = (
            '<form method=post><input type=hidden name=state value="'
            f'{html.escape(self.state)}"><button type=submit>'
            f"{html.escape(self.button)}</button></form>"
        )
        return super().html().replace("</body>", f"{form}</body>")


def member_label(who: LinkRequest) -> str:
    """The Discord member as our pages name them: display name and unique username."""
    if not who.username:
        return f"the Discord member with id {who.discord_user_id}"
    if who.display_name and who.display_name != who.username:
        return f"{who.display_name} (@{who.username})"
    return f"@{who.username}"


def _where(who: LinkRequest) -> str:
    if who.guild_name:
        return f"the Discord server {who.guild_name}"
    return "a Discord server" if who.guild_id is not None else "a direct message"


def page_confirm(who: LinkRequest, state: str) -> FormPage:
    """Before Spotify: whose link this is, and what continuing gives them."""
    member = member_label(who)
    return FormPage(
        200,
        f"Link Spotify to {member}?",
        (
            f"This link was made by /link for {member} in {_where(who)}.",
            f"If you continue, {member} can read the playlists of the Spotify account you "
            "sign in with next, share them and import into it.",
            "If someone sent you this link, close this tab: a /link link is only for the "
            "member who ran /link.",
        ),
        state=state,
        button="Continue to Spotify",
    )


def page_linked(spotify_name: str, who: LinkRequest) -> Page:
    """Success, naming both sides of the link."""
    return Page(
        200,
        "Spotify linked",
        (
            f"Linked as {spotify_name}: the Discord member {member_label(who)} now uses "
            "this Spotify account with Mixtape.",
            "You can close this tab.",
        ),
    )


def page_taken(spotify_name: str) -> Page:
    """The Spotify account belongs to another member's link."""
    return Page(
        409,
        "Spotify account already linked",
        (
            f"The Spotify account {spotify_name} is linked to another Discord member, and a "
            "Spotify account can be linked to one member only, so nothing changed.",
            "If it is yours, run /unlink from the Discord account that has it first. If it "
            "isn't, sign out of Spotify, run /link in Discord again and sign in with your own "
            "account.",
        ),
    )


def page_other_browser() -> Page:
    """A callback in a browser that did not press our page's button."""
    return Page(
        400,
        "Finish where you started",
        (
            "This sign-in started in another browser (or this one forgot its cookies), and a "
            "link is only finished in the browser that opened it, so nothing changed.",
            "Run /link in Discord again and open its link in this browser.",
        ),
    )


def page_opened_elsewhere() -> Page:
    """Our page, for a link another browser already went on with."""
    return Page(
        409,
        "Link opened in another browser",
        (
            "This /link link was already opened in another browser, and only that browser "
            "can finish it, so nothing changed.",
            "If that wasn't you, run /link in Discord again: the new link replaces this one.",
        ),
    )


def page_not_from_our_page() -> Page:
    """A post that did not come from our page (another site's form, or no Origin)."""
    return Page(
        403,
        "Open the link from Discord",
        (
            "This button only works on Mixtape's own page, so nothing changed.",
            "Open the link from your /link answer in Discord.",
        ),
    )
