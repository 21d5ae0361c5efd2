"""JSON shapes of the fake Discord: users, applications, channels, messages, commands.

Kept apart from the store so the shapes can be read (and checked against
`discord-openapi.json`) without the locking and bookkeeping around them. Every builder
returns the wire form: snowflakes are strings, times are ISO 8601 in UTC.
"""

from __future__ import annotations

import copy
import datetime
import itertools
import threading
from collections.abc import Iterator, Mapping
from typing import Any

JSON = dict[str, Any]

DISCORD_EPOCH_MS = 1_420_070_400_000
EPHEMERAL = 1 << 6
LOADING = 1 << 7
SUPPRESS_EMBEDS = 1 << 2
SUPPRESS_NOTIFICATIONS = 1 << 12
IS_COMPONENTS_V2 = 1 << 15
# Flags a bot may set on a new message; EPHEMERAL only through an interaction token.
SETTABLE_FLAGS = SUPPRESS_EMBEDS | SUPPRESS_NOTIFICATIONS | IS_COMPONENTS_V2


class ApiError(Exception):
    """An error answer: HTTP status plus Discord's JSON error code and message."""

    def __init__(self, status: int, code: int, message: str, errors: JSON | None = None) -> None:
        super().__init__(f"{status} {code} {message}")
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors

    def body(self) -> JSON:
        """The JSON body Discord sends with this error."""
        body: JSON = {"message": self.message, "code": self.code}
        if self.errors is not None:
            body["errors"] = self.errors
        return body


def invalid_form(field: str, code: str, message: str) -> ApiError:
    """Discord's 50035 'Invalid Form Body' with the per-field error tree."""
    errors = {field: {"_errors": [{"code": code, "message": message}]}}
    return ApiError(400, 50035, "Invalid Form Body", errors)


class Snowflakes:
    """Unique, time-ordered Discord ids, as Discord mints them (ms since 2015 << 22)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sequence: Iterator[int] = itertools.count()

    def next(self, at: float) -> int:
        """A fresh id whose embedded time is `at` (epoch seconds)."""
        with self._lock:
            increment = next(self._sequence) & 0xFFF
        return ((int(at * 1000) - DISCORD_EPOCH_MS) << 22) | (1 << 17) | increment


def iso(at: float) -> str:
    """Discord's timestamp format for an epoch time."""
    return datetime.datetime.fromtimestamp(at, datetime.UTC).isoformat()


def user_payload(user_id: int, name: str, *, bot: bool = False) -> JSON:
    """A `UserResponse` object."""
    payload: JSON = {
        "id": str(user_id),
        "username": name,
        "global_name": None if bot else name,
        "avatar": None,
        "discriminator": "0",
        "public_flags": 0,
        "flags": 0,
        "primary_guild": None,
        "avatar_decoration_data": None,
        "collectibles": None,
        "banner": None,
        "accent_color": None,
    }
    if bot:
        payload["bot"] = True
    return payload


def me_payload(bot_user: JSON) -> JSON:
    """`GET /users/@me` for a bot: the user plus the private fields (`UserPIIResponse`)."""
    return {**bot_user, "mfa_enabled": True, "locale": "en-US", "verified": True, "email": None}


def application_payload(application_id: int, bot_user: JSON, owner: JSON) -> JSON:
    """`GET /oauth2/applications/@me` (`PrivateApplicationResponse`)."""
    return {
        "id": str(application_id),
        "name": bot_user["username"],
        "icon": None,
        "description": "Fake application for tests",
        "type": None,
        "bot": bot_user,
        "bot_public": True,
        "bot_require_code_grant": False,
        "verify_key": "0" * 64,
        "flags": 0,
        "flags_new": "0",
        "redirect_uris": [],
        "interactions_endpoint_url": None,
        "role_connections_verification_url": None,
        "owner": owner,
        "approximate_guild_count": 1,
        "approximate_user_install_count": 0,
        "approximate_user_authorization_count": 0,
        "explicit_content_filter": 0,
        "team": None,
        "eligible_oauth2_scopes": ["bot", "applications.commands"],
        "integration_types_config": {"0": {}},
        "tags": [],
    }


def channel_payload(channel_id: int, guild_id: int, name: str, position: int) -> JSON:
    """A guild text channel (`GuildChannelResponse`, type 0)."""
    return {
        "id": str(channel_id),
        "type": 0,
        "guild_id": str(guild_id),
        "name": name,
        "position": position,
        "flags": 0,
        "parent_id": None,
        "topic": None,
        "nsfw": False,
        "rate_limit_per_user": 0,
        "last_message_id": None,
        "permission_overwrites": [],
    }


def _normalize_components(components: list[JSON], counter: Iterator[int]) -> list[JSON]:
    """Give every component the numeric `id` Discord assigns when the sender left it out."""
    result: list[JSON] = []
    for component in components:
        item = dict(component)
        item.setdefault("id", next(counter))
        if isinstance(item.get("components"), list):
            item["components"] = _normalize_components(item["components"], counter)
        result.append(item)
    return result


def _normalize_embed(embed: JSON) -> JSON:
    item = dict(embed)
    item.setdefault("type", "rich")
    if isinstance(item.get("fields"), list):
        item["fields"] = [{"inline": False, **field} for field in item["fields"]]
    return item


def is_empty(message: JSON) -> bool:
    """Whether a message would show nothing at all (Discord's 50006)."""
    return not (
        message.get("content")
        or message.get("embeds")
        or message.get("components")
        or message.get("attachments")
        or message.get("sticker_items")
        or message.get("poll")
    )


def apply_fields(message: JSON, body: Mapping[str, Any], *, creating: bool) -> None:
    """Copy the visible fields of a create/edit request onto a stored message."""
    if "content" in body:
        message["content"] = body["content"] or ""
    if "embeds" in body:
        message["embeds"] = [_normalize_embed(e) for e in body["embeds"] or []]
    if "components" in body:
        message["components"] = _normalize_components(body["components"] or [], itertools.count(1))
    if "attachments" in body and body["attachments"] is not None and not creating:
        keep = {str(a.get("id")) for a in body["attachments"]}
        message["attachments"] = [a for a in message["attachments"] if a["id"] in keep]
    if "poll" in body and body["poll"] is not None:
        message["poll"] = copy.deepcopy(body["poll"])
    if creating:
        message["tts"] = bool(body.get("tts", False))
        if body.get("nonce") is not None:
            message["nonce"] = body["nonce"]
    if "flags" in body and body["flags"] is not None:
        # Only SUPPRESS_EMBEDS can change after creation; the rest are fixed at creation.
        mask = SETTABLE_FLAGS if creating else SUPPRESS_EMBEDS
        message["flags"] = (message["flags"] & ~mask) | (int(body["flags"]) & mask)


def new_message(
    *, message_id: int, channel_id: int, author: JSON, at: float, message_type: int = 0
) -> JSON:
    """An empty `MessageResponse` for `apply_fields` to fill."""
    return {
        "id": str(message_id),
        "channel_id": str(channel_id),
        "type": message_type,
        "content": "",
        "author": author,
        "mentions": [],
        "mention_roles": [],
        "attachments": [],
        "embeds": [],
        "components": [],
        "timestamp": iso(at),
        "edited_timestamp": None,
        "flags": 0,
        "pinned": False,
        "mention_everyone": False,
        "tts": False,
    }


def attachment_payload(attachment_id: int, filename: str, size: int, content_type: str) -> JSON:
    """A `MessageAttachmentResponse` for an uploaded file."""
    url = f"https://cdn.discordapp.com/attachments/fake/{attachment_id}/{filename}"
    return {
        "id": str(attachment_id),
        "filename": filename,
        "size": size,
        "url": url,
        "proxy_url": url,
        "content_type": content_type,
    }


def command_payload(
    request: JSON, *, command_id: int, application_id: int, version: int, guild_id: int | None
) -> JSON:
    """An `ApplicationCommandResponse` for one entry of a bulk overwrite.

    Requests may carry `default_member_permissions` as an integer (the spec's request
    schema) or a string (the docs); the answer always holds a string or null, as the spec's
    `ApplicationCommandResponse` says. Options come back in their response shape.
    """
    permissions = request.get("default_member_permissions")
    payload: JSON = {
        "id": str(command_id),
        "application_id": str(application_id),
        "version": str(version),
        "default_member_permissions": None if permissions is None else str(int(permissions)),
        "type": request.get("type") or 1,
        "name": request["name"],
        "description": request.get("description") or "",
        "options": [_option_payload(o) for o in request.get("options") or []],
        "nsfw": bool(request.get("nsfw", False)),
        "integration_types": request.get("integration_types") or [0],
        "contexts": request.get("contexts"),
    }
    for key in ("name_localizations", "description_localizations", "dm_permission"):
        if request.get(key) is not None:
            payload[key] = request[key]
    if guild_id is not None:
        payload["guild_id"] = str(guild_id)
    return payload


# The keys an `ApplicationCommand*OptionResponse` may hold (request-only keys are dropped).
_OPTION_KEYS = (
    "type", "name", "name_localizations", "description", "description_localizations",
    "required", "autocomplete", "channel_types", "min_value", "max_value", "min_length",
    "max_length",
)  # fmt: skip


def _option_payload(option: JSON) -> JSON:
    """An option as Discord answers it: no nulls, `required`/`autocomplete` only when true."""
    payload: JSON = {
        key: copy.deepcopy(option[key]) for key in _OPTION_KEYS if option.get(key) is not None
    }
    for flag in ("required", "autocomplete"):
        if payload.get(flag) is False:
            del payload[flag]
    if option.get("choices"):
        payload["choices"] = [
            {k: copy.deepcopy(v) for k, v in choice.items() if v is not None}
            for choice in option["choices"]
        ]
    if option.get("type") in (1, 2):  # subcommands and groups nest their options
        payload["options"] = [_option_payload(o) for o in option.get("options") or []]
    return payload
