"""The aiohttp side of the fake Discord: routes, auth, faults, rate limits, the call log.

Every endpoint runs the same pipeline Discord's edge does: authorization (bot routes
only), scripted faults, the route's rate-limit bucket, then the handler; the answer is
JSON with `Content-Type: application/json` exactly (discord.py compares the header
verbatim) and the `X-RateLimit-*` headers, and is written to the call log.
"""

from __future__ import annotations

import asyncio
import copy
import json
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import BodyPartReader, web

from fakes import traffic
from fakes.discord_limits import (
    BucketState,
    Fault,
    rate_limited_body,
    rate_limited_headers,
)
from fakes.discord_messages import (
    UploadedFile,
    create_message,
    edit_message,
    followup,
    interaction_callback,
    put_commands,
    webhook_message,
)
from fakes.discord_models import ApiError, invalid_form
from fakes.discord_records import CallRecord
from fakes.discord_store import DiscordStore

API_PREFIX = "/api/v10"
STORE = web.AppKey("store", DiscordStore)
VIA = "1.1 google"


@dataclass(frozen=True)
class Ctx:
    """What a handler gets: path parameters, query, parsed body and uploaded files."""

    route: str
    params: dict[str, str]
    query: dict[str, str]
    body: Any
    files: Sequence[UploadedFile]

    def snowflake(self, name: str) -> int:
        """A path parameter as an id; Discord answers 404 for non-numeric ids."""
        value = self.params[name]
        if not value.isdigit():
            raise ApiError(404, 0, "404: Not Found")
        return int(value)

    def flag(self, name: str) -> bool:
        """A boolean query parameter, as discord.py (`1`) or the docs (`true`) send it."""
        return self.query.get(name, "").lower() in ("1", "true")

    def json_object(self) -> dict[str, Any]:
        """The body, which must be a JSON object."""
        if not isinstance(self.body, dict):
            raise ApiError(400, 50109, "The request body contains invalid JSON.")
        return self.body


Reply = tuple[int, Any]
Handler = Callable[[DiscordStore, Ctx], Reply]


def _get_me(store: DiscordStore, ctx: Ctx) -> Reply:
    return 200, store.me()


def _get_application(store: DiscordStore, ctx: Ctx) -> Reply:
    return 200, store.application()


def _check_app(store: DiscordStore, ctx: Ctx) -> int | None:
    if ctx.snowflake("application_id") != store.application_id:
        raise ApiError(403, 50001, "Missing Access")
    return ctx.snowflake("guild_id") if "guild_id" in ctx.params else None


def _put_commands(store: DiscordStore, ctx: Ctx) -> Reply:
    return 200, put_commands(store, _check_app(store, ctx), ctx.body)


def _get_commands(store: DiscordStore, ctx: Ctx) -> Reply:
    return 200, store.commands(_check_app(store, ctx))


def _open_dm(store: DiscordStore, ctx: Ctx) -> Reply:
    body = ctx.json_object()
    recipient = body.get("recipient_id")
    if not isinstance(recipient, (str, int)) or not str(recipient).isdigit():
        raise invalid_form("recipient_id", "BASE_TYPE_REQUIRED", "This field is required")
    return 200, store.open_dm(int(recipient))


def _get_channel(store: DiscordStore, ctx: Ctx) -> Reply:
    return 200, store.channel(ctx.snowflake("channel_id"))


def _list_messages(store: DiscordStore, ctx: Ctx) -> Reply:
    channel_id = ctx.snowflake("channel_id")
    store.channel(channel_id)
    raw_limit = ctx.query.get("limit", "50")
    limit = int(raw_limit) if raw_limit.isdigit() else 0
    if not 1 <= limit <= 100:
        raise invalid_form("limit", "NUMBER_TYPE_MAX", "Must be between 1 and 100.")
    before = _snowflake_query(ctx, "before")
    after = _snowflake_query(ctx, "after")
    found = [
        s.data
        for s in reversed(store.channel_messages(channel_id))
        if not s.data["flags"] & 64
        and (before is None or int(s.data["id"]) < before)
        and (after is None or int(s.data["id"]) > after)
    ]
    return 200, found[:limit]


def _snowflake_query(ctx: Ctx, name: str) -> int | None:
    value = ctx.query.get(name, "")
    if value and not value.isdigit():
        raise invalid_form(name, "NUMBER_TYPE_COERCE", f'Value "{value}" is not snowflake.')
    return int(value) if value else None


def _create_message(store: DiscordStore, ctx: Ctx) -> Reply:
    channel_id = ctx.snowflake("channel_id")
    return 200, create_message(store, channel_id, ctx.json_object(), ctx.files, ctx.route)


def _get_message(store: DiscordStore, ctx: Ctx) -> Reply:
    channel_id = ctx.snowflake("channel_id")
    store.channel(channel_id)
    return 200, store.stored_message(channel_id, ctx.snowflake("message_id")).data


def _edit_message(store: DiscordStore, ctx: Ctx) -> Reply:
    channel_id = ctx.snowflake("channel_id")
    store.channel(channel_id)
    stored = store.stored_message(channel_id, ctx.snowflake("message_id"))
    return 200, edit_message(store, stored, ctx.json_object(), ctx.files, ctx.route)


def _delete_message(store: DiscordStore, ctx: Ctx) -> Reply:
    channel_id = ctx.snowflake("channel_id")
    store.channel(channel_id)
    store.delete_message(channel_id, ctx.snowflake("message_id"))
    return 204, None


def _callback(store: DiscordStore, ctx: Ctx) -> Reply:
    inter = store.interaction_by_id(
        ctx.snowflake("interaction_id"), ctx.params["interaction_token"]
    )
    answer = interaction_callback(
        store, inter, ctx.body, ctx.files, ctx.route, with_response=ctx.flag("with_response")
    )
    return (200, answer) if answer is not None else (204, None)


def _token_interaction(store: DiscordStore, ctx: Ctx) -> Any:
    return store.interaction_by_token(ctx.snowflake("webhook_id"), ctx.params["webhook_token"])


def _execute_webhook(store: DiscordStore, ctx: Ctx) -> Reply:
    inter = _token_interaction(store, ctx)
    message = followup(store, inter, ctx.json_object(), ctx.files, ctx.route)
    return (200, message) if ctx.flag("wait") else (204, None)


def _message_ref(ctx: Ctx) -> str:
    return ctx.params.get("message_id", "@original")


def _get_webhook_message(store: DiscordStore, ctx: Ctx) -> Reply:
    inter = _token_interaction(store, ctx)
    return 200, webhook_message(store, inter, _message_ref(ctx)).data


def _edit_webhook_message(store: DiscordStore, ctx: Ctx) -> Reply:
    inter = _token_interaction(store, ctx)
    stored = webhook_message(store, inter, _message_ref(ctx))
    return 200, edit_message(store, stored, ctx.json_object(), ctx.files, ctx.route)


def _delete_webhook_message(store: DiscordStore, ctx: Ctx) -> Reply:
    inter = _token_interaction(store, ctx)
    stored = webhook_message(store, inter, _message_ref(ctx))
    store.delete_message(int(stored.data["channel_id"]), int(stored.data["id"]))
    return 204, None


_WEBHOOK = "/webhooks/{webhook_id}/{webhook_token}"
# (method, path, handler, needs bot auth). `@original` precedes `{message_id}`.
ROUTES: list[tuple[str, str, Handler, bool]] = [
    ("GET", "/users/@me", _get_me, True),
    ("GET", "/oauth2/applications/@me", _get_application, True),
    ("POST", "/users/@me/channels", _open_dm, True),
    ("GET", "/applications/{application_id}/commands", _get_commands, True),
    ("PUT", "/applications/{application_id}/commands", _put_commands, True),
    ("GET", "/applications/{application_id}/guilds/{guild_id}/commands", _get_commands, True),
    ("PUT", "/applications/{application_id}/guilds/{guild_id}/commands", _put_commands, True),
    ("GET", "/channels/{channel_id}", _get_channel, True),
    ("GET", "/channels/{channel_id}/messages", _list_messages, True),
    ("POST", "/channels/{channel_id}/messages", _create_message, True),
    ("GET", "/channels/{channel_id}/messages/{message_id}", _get_message, True),
    ("PATCH", "/channels/{channel_id}/messages/{message_id}", _edit_message, True),
    ("DELETE", "/channels/{channel_id}/messages/{message_id}", _delete_message, True),
    ("POST", "/interactions/{interaction_id}/{interaction_token}/callback", _callback, False),
    ("POST", _WEBHOOK, _execute_webhook, False),
    ("GET", _WEBHOOK + "/messages/@original", _get_webhook_message, False),
    ("PATCH", _WEBHOOK + "/messages/@original", _edit_webhook_message, False),
    ("DELETE", _WEBHOOK + "/messages/@original", _delete_webhook_message, False),
    ("GET", _WEBHOOK + "/messages/{message_id}", _get_webhook_message, False),
    ("PATCH", _WEBHOOK + "/messages/{message_id}", _edit_webhook_message, False),
    ("DELETE", _WEBHOOK + "/messages/{message_id}", _delete_webhook_message, False),
]


def _major(params: dict[str, str]) -> str:
    """The major parameter Discord buckets a route by."""
    for key in ("channel_id", "guild_id"):
        if key in params:
            return params[key]
    if "webhook_id" in params:
        return f"{params['webhook_id']}/{params['webhook_token']}"
    return params.get("interaction_id", "")


async def _read_body(request: web.Request) -> tuple[Any, list[UploadedFile]]:
    """JSON body, or `payload_json` plus file parts of a multipart upload."""
    if not request.body_exists:
        return None, []
    if request.content_type != "multipart/form-data":
        return _parse_json(await request.text()), []
    payload: Any = None
    files: list[UploadedFile] = []
    reader = await request.multipart()
    async for part in reader:
        if not isinstance(part, BodyPartReader):
            continue
        data = await part.read()
        name = part.name or ""
        if name == "payload_json":
            payload = _parse_json(data.decode())
        else:
            ctype = part.headers.get("Content-Type", "application/octet-stream")
            files.append(UploadedFile(name, part.filename or name, len(data), ctype))
    return payload, files


def _parse_json(text: str) -> Any:
    """A request body as JSON, or Discord's 50109 when it is not JSON."""
    try:
        return json.loads(text) if text else None
    except ValueError:
        raise ApiError(400, 50109, "The request body contains invalid JSON.") from None


def _fault_reply(fault: Fault, bucket: BucketState) -> tuple[int, Any, dict[str, str]]:
    """The scripted answer of a fault that sets a status."""
    assert fault.status is not None
    if fault.status == 429:
        headers = rate_limited_headers(bucket, fault.retry_after, is_global=fault.is_global)
        return 429, rate_limited_body(fault.retry_after, is_global=fault.is_global), headers
    message = fault.message or _DEFAULT_MESSAGES.get(fault.status, f"{fault.status}: Error")
    return fault.status, {"message": message, "code": fault.code}, bucket.headers()


_DEFAULT_MESSAGES = {
    400: "400: Bad Request",
    403: "Missing Access",
    404: "404: Not Found",
    500: "500: Internal Server Error",
    502: "502: Bad Gateway",
    503: "503: Service Unavailable",
}


async def _process(
    store: DiscordStore, route: str, handler: Handler, bot_auth: bool, request: web.Request
) -> tuple[int, Any, dict[str, str], Any]:
    """Auth, faults, bucket and handler; returns status, body, headers, parsed request."""
    params = dict(request.match_info)
    body: Any = None
    bucket = store.limiter.hit(route, _major(params), count=False)
    via = True
    try:
        body, files = await _read_body(request)
        if bot_auth:
            store.check_auth(request.headers.get("Authorization"))
        fault = store.faults.take(route)
        if fault is not None:
            via = fault.via
            if fault.delay:
                await asyncio.sleep(fault.delay)  # a slow Discord, as scripted by the test
            if fault.status is not None:
                status, payload, headers = _fault_reply(fault, bucket)
                return status, payload, _with_via(headers, via), body
        bucket = store.limiter.hit(route, _major(params))
        if not bucket.allowed:
            headers = rate_limited_headers(bucket, bucket.reset_after, is_global=False)
            payload = rate_limited_body(bucket.reset_after, is_global=False)
            return 429, payload, _with_via(headers, via), body
        ctx = Ctx(route, params, dict(request.query), body, files)
        status, payload = handler(store, ctx)
        return status, payload, _with_via(bucket.headers(), via), body
    except ApiError as error:
        return error.status, error.body(), _with_via(bucket.headers(), via), body


def _with_via(headers: dict[str, str], via: bool) -> dict[str, str]:
    return {**headers, "Via": VIA} if via else headers


def _render(status: int, payload: Any, headers: dict[str, str]) -> web.Response:
    """A JSON answer with the exact `Content-Type` discord.py checks for."""
    if payload is None:
        return web.Response(status=status, headers=headers)
    body = json.dumps(payload).encode()
    return web.Response(
        status=status, body=body, headers={**headers, "Content-Type": "application/json"}
    )


def _endpoint(
    route: str, handler: Handler, bot_auth: bool
) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def endpoint(request: web.Request) -> web.Response:
        store = request.app[STORE]
        status, payload, headers, body = await _process(store, route, handler, bot_auth, request)
        call = CallRecord(
            method=request.method,
            path=request.path,
            route=route,
            status=status,
            query=dict(request.query),
            request=body,
            response=payload,
            headers=headers,
            at=time.monotonic(),
        )
        store.record_call(call)
        _offer(request, call)
        return _render(status, payload, headers)

    return endpoint


async def _not_found(request: web.Request) -> web.Response:
    """Unknown paths get Discord's JSON 404 and an unrouted (`route=""`) log entry."""
    store = request.app[STORE]
    payload = {"message": "404: Not Found", "code": 0}
    call = CallRecord(
        request.method,
        request.path,
        "",
        404,
        dict(request.query),
        None,
        payload,
        {},
        time.monotonic(),
    )
    store.record_call(call)
    _offer(request, call)
    return _render(404, payload, {"Via": VIA})


def _offer(request: web.Request, call: CallRecord) -> None:
    """Hand the exchange to the traffic sampler (a no-op unless a test run switched it on).

    A multipart request is judged by its `payload_json`, the part the JSON schema describes.
    """
    if not traffic.SAMPLER.enabled:
        return
    sent = traffic.media_type(request.content_type) if request.body_exists else ""
    head = traffic.Exchange(
        service="discord",
        method=call.method,
        path=call.path,
        route=call.route,
        query=call.query,
        request=None,
        request_type="application/json" if sent == "multipart/form-data" else sent,
        status=call.status,
        response=None,
        response_type="" if call.response is None else "application/json",
    )
    # copies: a stored message's data changes with later edits
    traffic.SAMPLER.offer(head, lambda: copy.deepcopy((call.request, call.response)))


def build_app(
    store: DiscordStore, extend: Callable[[web.Application], None] | None = None
) -> web.Application:
    """The aiohttp application serving `store` under `/api/v10`.

    `extend` adds more routes (the gateway) before the catch-all 404, which would
    otherwise shadow them.
    """
    app = web.Application()
    app[STORE] = store
    for method, path, handler, bot_auth in ROUTES:
        app.router.add_route(
            method, API_PREFIX + path, _endpoint(f"{method} {path}", handler, bot_auth)
        )
    if extend is not None:
        extend(app)
    app.router.add_route("*", "/{tail:.*}", _not_found)
    return app
