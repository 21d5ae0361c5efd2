"""How the fake Discord creates and edits messages and answers interactions.

Each function takes the store's lock for its whole read-modify-write, so a test reading
from another thread never sees half a change, and records every version it produces.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from fakes.discord_forms import check_autocomplete, check_commands, check_message_body
from fakes.discord_models import (
    EPHEMERAL,
    JSON,
    LOADING,
    ApiError,
    apply_fields,
    attachment_payload,
    command_payload,
    invalid_form,
    is_empty,
    iso,
    new_message,
)
from fakes.discord_records import InteractionCallback, MessageVersion, _Interaction, _Stored
from fakes.discord_store import EDIT_AGE_LIMIT, DiscordStore

APPLICATION_COMMAND, MESSAGE_COMPONENT, AUTOCOMPLETE, MODAL_SUBMIT = 2, 3, 4, 5
CHANNEL_MESSAGE, DEFERRED_MESSAGE, DEFERRED_UPDATE, UPDATE_MESSAGE = 4, 5, 6, 7
AUTOCOMPLETE_RESULT, MODAL = 8, 9
# Which callback types Discord accepts for which interaction types.
_ALLOWED_CALLBACKS = {
    APPLICATION_COMMAND: {CHANNEL_MESSAGE, DEFERRED_MESSAGE, MODAL},
    MESSAGE_COMPONENT: {CHANNEL_MESSAGE, DEFERRED_MESSAGE, DEFERRED_UPDATE, UPDATE_MESSAGE, MODAL},
    AUTOCOMPLETE: {AUTOCOMPLETE_RESULT},
    MODAL_SUBMIT: {CHANNEL_MESSAGE, DEFERRED_MESSAGE, DEFERRED_UPDATE, UPDATE_MESSAGE},
}
_OLD_EDIT = "Maximum number of edits to messages older than 1 hour reached. Try again later."


@dataclass(frozen=True)
class UploadedFile:
    """A file part of a multipart request (its bytes are not kept)."""

    field: str
    filename: str
    size: int
    content_type: str


def _attachments(store: DiscordStore, files: Sequence[UploadedFile]) -> list[JSON]:
    now = store.now()
    return [
        attachment_payload(store.ids.next(now), f.filename, f.size, f.content_type) for f in files
    ]


def create_message(
    store: DiscordStore,
    channel_id: int,
    body: JSON,
    files: Sequence[UploadedFile],
    route: str,
    *,
    message_type: int = 0,
    extra: JSON | None = None,
    via_token: bool = False,
    loading: bool = False,
) -> JSON:
    """Create and record a message; Discord's 400s for bad or empty bodies.

    `via_token`: sent with an interaction token, which may be ephemeral and needs no
    channel permission.
    """
    check_message_body(body)
    with store.lock:
        store.channel(channel_id, access=not via_token)
        now = store.now()
        message = new_message(
            message_id=store.ids.next(now),
            channel_id=channel_id,
            author=store.bot_user,
            at=now,
            message_type=message_type,
        )
        message["attachments"] = _attachments(store, files)
        apply_fields(message, body, creating=True)
        if via_token and int(body.get("flags") or 0) & EPHEMERAL:
            message["flags"] |= EPHEMERAL
        if loading:
            message["flags"] |= LOADING
        message.update(copy.deepcopy(extra or {}))
        if not via_token:
            _apply_reply(store, message, channel_id, body.get("message_reference"))
        if not loading and is_empty(message):
            raise ApiError(400, 50006, "Cannot send an empty message")
        version = MessageVersion("create", route, copy.deepcopy(body), copy.deepcopy(message), now)
        store.put_message(_Stored(message, now, [version]))
        return copy.deepcopy(message)


REPLY = 19


def _apply_reply(store: DiscordStore, message: JSON, channel_id: int, reference: Any) -> None:
    """A reply to a message in the same channel: type 19, its `message_reference` and
    `referenced_message`. Discord refuses an unknown message unless `fail_if_not_exists`
    is false (then the message is sent as a plain one)."""
    if not isinstance(reference, dict) or reference.get("message_id") is None:
        return
    target_channel = int(reference.get("channel_id") or channel_id)
    try:
        target = store.stored_message(target_channel, int(reference["message_id"]))
    except (ApiError, ValueError):
        if reference.get("fail_if_not_exists") is False:
            return
        raise invalid_form(
            "message_reference", "MESSAGE_REFERENCE_UNKNOWN_MESSAGE", "Unknown message"
        ) from None
    if target_channel != channel_id:
        raise invalid_form(
            "message_reference", "REPLIES_CANNOT_REFERENCE_OTHER_CHANNEL", "Invalid channel"
        )
    message["type"] = REPLY
    message["message_reference"] = {
        "type": 0,
        "channel_id": str(channel_id),
        "message_id": target.data["id"],
    }
    message["referenced_message"] = {
        k: copy.deepcopy(v)
        for k, v in target.data.items()
        if k not in ("referenced_message", "message_reference")
    }


def edit_message(
    store: DiscordStore, stored: _Stored, body: JSON, files: Sequence[UploadedFile], route: str
) -> JSON:
    """Apply an edit and record the new version; 30046 for messages over an hour old."""
    check_message_body(body)
    with store.lock:
        now = store.now()
        if now - stored.created_at > EDIT_AGE_LIMIT:
            raise ApiError(400, 30046, _OLD_EDIT)
        message = copy.deepcopy(stored.data)
        apply_fields(message, body, creating=False)
        message["attachments"] = message["attachments"] + _attachments(store, files)
        completing = bool(message["flags"] & LOADING)
        message["flags"] &= ~LOADING
        if is_empty(message):
            raise ApiError(400, 50006, "Cannot send an empty message")
        if not completing:
            message["edited_timestamp"] = iso(now)
        stored.data = message
        stored.versions.append(
            MessageVersion("edit", route, copy.deepcopy(body), copy.deepcopy(message), now)
        )
        store.notify()
        return copy.deepcopy(message)


def _interaction_extra(store: DiscordStore, inter: _Interaction, *, followup: bool) -> JSON:
    """Fields Discord adds to messages sent through an interaction token."""
    owners = {"0": str(inter.guild_id)} if inter.guild_id else {"1": inter.user["id"]}
    metadata: JSON = {
        "id": str(inter.id),
        "type": inter.type,
        "user": inter.user,
        "authorizing_integration_owners": owners,
    }
    if inter.type == MESSAGE_COMPONENT and inter.message_id is not None:
        metadata["interacted_message_id"] = str(inter.message_id)
    if followup and inter.original_id is not None:
        metadata["original_response_message_id"] = str(inter.original_id)
    extra: JSON = {
        "webhook_id": str(store.application_id),
        "application_id": str(store.application_id),
        "interaction_metadata": metadata,
    }
    if inter.type == APPLICATION_COMMAND:
        extra["interaction"] = {
            "id": str(inter.id),
            "type": inter.type,
            "name": inter.name,
            "user": inter.user,
        }
    return extra


def interaction_callback(
    store: DiscordStore,
    inter: _Interaction,
    body: Any,
    files: Sequence[UploadedFile],
    route: str,
    *,
    with_response: bool,
) -> JSON | None:
    """Accept the one initial response of an interaction; the 2.6+ callback shape.

    Discord checks the deadline (3 s from creation, else 404 10062) before the body, and
    the body's limits under `data` (`data.embeds.0.title`, `data.choices.0.name`).
    """
    if not isinstance(body, dict) or not isinstance(body.get("type"), int):
        raise invalid_form("type", "BASE_TYPE_REQUIRED", "This field is required")
    kind: int = body["type"]
    data: JSON = body.get("data") or {}
    with store.lock:
        if inter.callbacks:
            raise ApiError(400, 40060, "Interaction has already been acknowledged.")
        deadline = store.callback_deadline
        if deadline is not None and store.now() - inter.issued_at > deadline:
            raise ApiError(404, 10062, "Unknown interaction")
        if kind not in _ALLOWED_CALLBACKS.get(inter.type, set()):
            raise invalid_form("type", "INTERACTION_CALLBACK_TYPE_INVALID", "Invalid type")
        if kind in (CHANNEL_MESSAGE, UPDATE_MESSAGE):
            check_message_body(data, "data")
        elif kind == AUTOCOMPLETE_RESULT:
            check_autocomplete(data)
        resource = _respond(store, inter, kind, data, files, route)
        inter.callbacks.append(
            InteractionCallback(inter.id, kind, copy.deepcopy(data), time.monotonic())
        )
        store.notify()
        if not with_response:
            return None
        return _callback_response(store, inter, kind, resource)


def _respond(
    store: DiscordStore,
    inter: _Interaction,
    kind: int,
    data: JSON,
    files: Sequence[UploadedFile],
    route: str,
) -> JSON | None:
    """Carry out a callback: create, defer or update a message; returns it if any."""
    if kind in (CHANNEL_MESSAGE, DEFERRED_MESSAGE):
        message_type = 20 if inter.type == APPLICATION_COMMAND else 0
        extra = _interaction_extra(store, inter, followup=False)
        message = create_message(
            store,
            inter.channel_id,
            data,
            files,
            route,
            message_type=message_type,
            extra=extra,
            via_token=True,
            loading=kind == DEFERRED_MESSAGE,
        )
        inter.original_id = int(message["id"])
        return message
    if kind in (UPDATE_MESSAGE, DEFERRED_UPDATE):
        if inter.message_id is None:
            raise ApiError(400, 50035, "Invalid Form Body")
        inter.original_id = inter.message_id
        if kind == UPDATE_MESSAGE:
            stored = store.stored_message(inter.channel_id, inter.message_id)
            return edit_message(store, stored, data, files, route)
    return None


def _callback_response(
    store: DiscordStore, inter: _Interaction, kind: int, resource: JSON | None
) -> JSON:
    """`InteractionCallbackResponse`: the interaction, and the message it produced."""
    summary: JSON = {"id": str(inter.id), "type": inter.type, "activity_instance_id": None}
    summary["channel_id"] = str(inter.channel_id)
    if inter.guild_id is not None:
        summary["guild_id"] = str(inter.guild_id)
    if inter.original_id is not None:
        original = store.stored_message(inter.channel_id, inter.original_id).data
        summary["response_message_id"] = str(inter.original_id)
        summary["response_message_loading"] = kind == DEFERRED_MESSAGE
        summary["response_message_ephemeral"] = bool(original["flags"] & EPHEMERAL)
    answer: JSON = {"interaction": summary}
    if resource is not None and kind in (CHANNEL_MESSAGE, UPDATE_MESSAGE):
        answer["resource"] = {"type": kind, "message": resource}
    return answer


def followup(
    store: DiscordStore, inter: _Interaction, body: JSON, files: Sequence[UploadedFile], route: str
) -> JSON:
    """A followup message; Discord refuses them before the interaction is acknowledged."""
    with store.lock:
        if not inter.callbacks:
            raise ApiError(404, 10015, "Unknown Webhook")
        message_type = 20 if inter.type == APPLICATION_COMMAND else 0
        extra = _interaction_extra(store, inter, followup=True)
        message = create_message(
            store,
            inter.channel_id,
            body,
            files,
            route,
            message_type=message_type,
            extra=extra,
            via_token=True,
        )
        inter.followup_ids.append(int(message["id"]))
        return message


def webhook_message(store: DiscordStore, inter: _Interaction, ref: str) -> _Stored:
    """`@original` or a followup id of this token, or 404 Unknown Message."""
    with store.lock:
        if ref == "@original":
            if inter.original_id is None:
                raise ApiError(404, 10008, "Unknown Message")
            return store.stored_message(inter.channel_id, inter.original_id)
        if not ref.isdigit() or int(ref) not in (*inter.followup_ids, inter.original_id):
            raise ApiError(404, 10008, "Unknown Message")
        return store.stored_message(inter.channel_id, int(ref))


def put_commands(store: DiscordStore, guild_id: int | None, body: Any) -> list[JSON]:
    """Bulk overwrite: commands keep their id when name and type stay the same."""
    check_commands(body)
    with store.lock:
        known = {(c["name"], c["type"]): int(c["id"]) for c in store.commands(guild_id)}
        now = store.now()
        result = []
        for request in body:
            key = (request["name"], request.get("type", 1))
            command_id = known.get(key) or store.ids.next(now)
            result.append(
                command_payload(
                    request,
                    command_id=command_id,
                    application_id=store.application_id,
                    version=store.ids.next(now),
                    guild_id=guild_id,
                )
            )
        store.set_commands(guild_id, result)
        return result
