"""Handlers of the fake Accounts service: `GET /authorize` and `POST /api/token`.

/authorize validates the client and redirect URI (errors there are pages, never redirects,
as on Spotify), then lets a fake user consent: the `fake_user` query parameter (with
`fake_deny=1` to refuse; agreeing signs the browser in with an `sp_dc` cookie), else the
next `SpotifyState.next_consent`, else a page of links for a human driving the offline
demo. As on Spotify, a signed-in browser whose user approved the app for these scopes
before is sent straight back with a code, without any dialog, unless `show_dialog=true`.
PKCE (`code_challenge`, method S256) binds the code to a `code_verifier` that /api/token
then requires. /api/token answers in Spotify's shapes, errors as
`{"error": ..., "error_description": ...}` with status 400.
"""

from __future__ import annotations

import base64
import binascii
import html
from collections.abc import Mapping

from aiohttp import web
from yarl import URL

from fakes.spotify_model import KNOWN_SCOPES, App, Consent, TokenGrant
from fakes.spotify_state import OAuthError, SpotifyState
from fakes.spotify_webapi import APP_ID, STATE, USER_ID


def _page(status: int, title: str, body: str = "") -> web.Response:
    text = f"<!doctype html><title>{html.escape(title)}</title><h1>{html.escape(title)}</h1>{body}"
    return web.Response(status=status, text=text, content_type="text/html")


#: Spotify's browser session cookie.
SESSION_COOKIE = "sp_dc"


def _redirect(redirect_uri: str, params: Mapping[str, str], state: str | None) -> web.Response:
    extra = dict(params) | ({"state": state} if state is not None else {})
    return web.Response(
        status=302, headers={"Location": str(URL(redirect_uri).update_query(extra))}
    )


def _chosen_consent(
    request: web.Request, state: SpotifyState, client_id: str, scopes: frozenset[str]
) -> Consent | None:
    """Who agrees: the dialog's answer, a remembered approval (no dialog), a queued one."""
    user = request.query.get("fake_user")
    if user is not None:
        return Consent(user, deny=request.query.get("fake_deny") == "1")
    if request.query.get("show_dialog", "").lower() != "true":
        remembered = state.approved_session_user(
            request.cookies.get(SESSION_COOKIE), client_id, scopes
        )
        if remembered is not None:
            return Consent(remembered)
    return state.take_consent()


def _pkce_challenge(query: Mapping[str, str]) -> str | None:
    """The PKCE challenge, or "" when it is malformed (Spotify supports S256 only)."""
    challenge = query.get("code_challenge")
    if challenge is None:
        return None
    if query.get("code_challenge_method") != "S256" or not 43 <= len(challenge) <= 128:
        return ""
    return challenge


def _login_page(request: web.Request, state: SpotifyState) -> web.Response:
    """Links that consent as each fake user, or refuse, for a person trying the demo."""
    with state.lock:
        users = list(state.users.values())
    links = [
        f'<li><a href="{html.escape(str(request.rel_url.update_query(fake_user=u.id)))}">'
        f"Agree as {html.escape(u.display_name)} ({html.escape(u.id)})</a></li>"
        for u in users
    ]
    deny = request.rel_url.update_query(fake_user=users[0].id if users else "", fake_deny="1")
    links.append(f'<li><a href="{html.escape(str(deny))}">Cancel</a></li>')
    return _page(200, "Fake Spotify: log in", f"<ul>{''.join(links)}</ul>")


async def authorize(request: web.Request) -> web.Response:
    state, query = request.app[STATE], request.query
    app = state.apps.get(query.get("client_id", ""))
    if app is None:
        return _page(400, "INVALID_CLIENT: Invalid client")
    redirect_uri = query.get("redirect_uri", "")
    if redirect_uri not in app.redirect_uris:
        return _page(400, "INVALID_CLIENT: Invalid redirect URI")
    request[APP_ID] = app.client_id
    client_state = query.get("state")
    if query.get("response_type") != "code":
        return _redirect(redirect_uri, {"error": "unsupported_response_type"}, client_state)
    scopes = frozenset(query.get("scope", "").split())
    if not scopes <= KNOWN_SCOPES:
        return _redirect(redirect_uri, {"error": "invalid_scope"}, client_state)
    challenge = _pkce_challenge(query)
    if challenge == "":
        return _redirect(redirect_uri, {"error": "invalid_request"}, client_state)
    consent = _chosen_consent(request, state, app.client_id, scopes)
    if consent is None:
        return _login_page(request, state)
    if consent.user_id not in state.users:
        return _page(400, f"Fake Spotify has no user {consent.user_id!r}")
    request[USER_ID] = consent.user_id
    if consent.deny:
        return _redirect(redirect_uri, {"error": "access_denied"}, client_state)
    state.approve(consent.user_id, app.client_id, scopes)
    code = state.create_code(app.client_id, redirect_uri, consent.user_id, scopes, challenge)
    response = _redirect(redirect_uri, {"code": code}, client_state)
    if "fake_user" in query:  # signed in through the dialog: this browser stays signed in
        response.set_cookie(
            SESSION_COOKIE, state.sign_in(consent.user_id), httponly=True, samesite="Lax"
        )
    return response


def _client(request: web.Request, form: Mapping[str, object]) -> tuple[str, str]:
    """Client id and secret from HTTP Basic or, failing that, the form body."""
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(header[6:], validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return "", ""
        client_id, _, secret = decoded.partition(":")
        return client_id, secret
    return str(form.get("client_id", "")), str(form.get("client_secret", ""))


def _authenticate(state: SpotifyState, client_id: str, secret: str) -> App:
    app = state.apps.get(client_id)
    if app is None:
        raise OAuthError("invalid_client", "Invalid client")
    if secret != app.client_secret:
        raise OAuthError("invalid_client", "Invalid client secret")
    return app


def _grant_body(grant: TokenGrant, with_scope: bool = True) -> dict[str, object]:
    body: dict[str, object] = {
        "access_token": grant.access_token,
        "token_type": "Bearer",
        "expires_in": grant.expires_in,
    }
    if with_scope:
        body["scope"] = grant.scope
    if grant.refresh_token is not None:
        body["refresh_token"] = grant.refresh_token
    return body


def _exchange(state: SpotifyState, app: App, form: Mapping[str, object]) -> dict[str, object]:
    grant_type = str(form.get("grant_type", ""))
    if grant_type == "authorization_code":
        code, redirect_uri = str(form.get("code", "")), str(form.get("redirect_uri", ""))
        verifier = form.get("code_verifier")
        grant = state.exchange_code(
            app.client_id, code, redirect_uri, str(verifier) if verifier is not None else None
        )
        return _grant_body(grant)
    if grant_type == "refresh_token":
        return _grant_body(state.refresh(app.client_id, str(form.get("refresh_token", ""))))
    if grant_type == "client_credentials":
        token = state.issue_app_token(app.client_id)
        return _grant_body(TokenGrant(token, None, state.token_lifetime, ""), with_scope=False)
    if not grant_type:
        raise OAuthError("unsupported_grant_type", "grant_type parameter is missing")
    raise OAuthError("unsupported_grant_type", f"grant_type {grant_type} is not supported")


async def token(request: web.Request) -> web.Response:
    state = request.app[STATE]
    form = await request.post()
    try:
        app = _authenticate(state, *_client(request, form))
        request[APP_ID] = app.client_id
        body = _exchange(state, app, form)
    except OAuthError as exc:
        payload = {"error": exc.error, "error_description": exc.description}
        return web.json_response(payload, status=400)
    access = state.lookup_access(str(body["access_token"]))
    if access is not None and access.user_id is not None:
        request[USER_ID] = access.user_id
    return web.json_response(body)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/authorize", authorize)
    app.router.add_post("/api/token", token)
