"""What Discord refuses in a request body, answered as 50035 "Invalid Form Body".

Discord validates the whole body and names every offending field in an `errors` tree
whose keys follow the JSON path (list indexes as strings), each leaf an `_errors` list of
`{"code", "message"}` (docs: reference#error-messages). A message body answered through an
interaction callback sits under `data`, so its paths start there:

    {"code": 50035, "message": "Invalid Form Body",
     "errors": {"data": {"embeds": {"0": {"title": {"_errors": [
         {"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 256 or fewer in length."}]}}}}}}
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fakes.discord_models import JSON, ApiError

Path = Sequence[str | int]

# Message limits: docs resources/message#create-message (content, embeds) and
# resources/message#embed-object-embed-limits (everything per embed, and the 6000 total).
MAX_CONTENT = 2000
MAX_EMBEDS = 10
MAX_EMBED_TOTAL = 6000
MAX_FIELDS = 25
EMBED_TEXT_LIMITS: dict[tuple[str, ...], int] = {
    ("title",): 256,
    ("description",): 4096,
    ("footer", "text"): 2048,
    ("author", "name"): 256,
}
FIELD_LIMITS = {"name": 256, "value": 1024}
# Autocomplete: docs interactions/receiving-and-responding#interaction-response-object-
# autocomplete (at most 25 choices) and application-commands#application-command-object-
# application-command-option-choice-structure (name 1-100, string value at most 100).
MAX_CHOICES = 25
CHOICE_NAME_LENGTH = (1, 100)
MAX_CHOICE_STRING_VALUE = 100
# Commands: application-commands#application-command-object-application-command-structure.
MAX_OPTIONS = 25
COMMAND_NAME_LENGTH = (1, 32)
DESCRIPTION_LENGTH = (1, 100)

REQUIRED = ("BASE_TYPE_REQUIRED", "This field is required")
TOO_BIG = ("MAX_EMBED_SIZE_EXCEEDED", f"Embed size exceeds maximum size of {MAX_EMBED_TOTAL}")


def max_length(limit: int) -> tuple[str, str]:
    """Discord's error for a string or list over its limit."""
    return "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length."


def bad_length(low: int, high: int) -> tuple[str, str]:
    """Discord's error for a string outside a length range."""
    return "BASE_TYPE_BAD_LENGTH", f"Must be between {low} and {high} in length."


class FormErrors:
    """Collects every field error of one body, so the answer names them all as Discord's does."""

    def __init__(self, *prefix: str) -> None:
        self._prefix = prefix
        self.tree: JSON = {}

    def add(self, path: Path, error: tuple[str, str]) -> None:
        """Record `error` (code, message) at `path` below the prefix."""
        node = self.tree
        for key in (*self._prefix, *path):
            node = node.setdefault(str(key), {})
        code, message = error
        node.setdefault("_errors", []).append({"code": code, "message": message})

    def raise_any(self) -> None:
        """Raise 400 50035 with the tree, if anything was recorded."""
        if self.tree:
            raise ApiError(400, 50035, "Invalid Form Body", self.tree)


def check_message_body(body: JSON, *prefix: str) -> None:
    """Content and embed limits of a message create, edit, followup or callback body."""
    errors = FormErrors(*prefix)
    content = body.get("content")
    if isinstance(content, str) and len(content) > MAX_CONTENT:
        errors.add(["content"], max_length(MAX_CONTENT))
    embeds = body.get("embeds")
    if isinstance(embeds, list):
        if len(embeds) > MAX_EMBEDS:
            errors.add(["embeds"], max_length(MAX_EMBEDS))
        total = 0
        for index, embed in enumerate(embeds):
            if isinstance(embed, dict):
                total += _check_embed(errors, ["embeds", index], embed)
        if total > MAX_EMBED_TOTAL:
            errors.add(["embeds"], TOO_BIG)
    errors.raise_any()


def _check_embed(errors: FormErrors, path: list[str | int], embed: JSON) -> int:
    """Record one embed's errors; returns the characters it counts towards the 6000."""
    counted = 0
    for keys, limit in EMBED_TEXT_LIMITS.items():
        text = _text_at(embed, keys)
        counted += len(text)
        if len(text) > limit:
            errors.add([*path, *keys], max_length(limit))
    fields = embed.get("fields")
    if not isinstance(fields, list):
        return counted
    if len(fields) > MAX_FIELDS:
        errors.add([*path, "fields"], max_length(MAX_FIELDS))
    for index, field in enumerate(fields):
        for key, limit in FIELD_LIMITS.items():
            value: Any = field.get(key) if isinstance(field, dict) else None
            where = [*path, "fields", index, key]
            if not isinstance(value, str) or not value:
                errors.add(where, REQUIRED)
                continue
            counted += len(value)
            if len(value) > limit:
                errors.add(where, max_length(limit))
    return counted


def _text_at(node: Any, keys: tuple[str, ...]) -> str:
    for key in keys:
        node = node.get(key) if isinstance(node, dict) else None
    return node if isinstance(node, str) else ""


def check_autocomplete(data: JSON) -> None:
    """An autocomplete result (callback type 8): choice count, names and string values."""
    errors = FormErrors("data")
    choices = data.get("choices")
    if not isinstance(choices, list):
        errors.add(["choices"], REQUIRED)
        errors.raise_any()
        return
    _check_choices(errors, ["choices"], choices)
    errors.raise_any()


def _check_choices(errors: FormErrors, path: list[str | int], choices: list[Any]) -> None:
    if len(choices) > MAX_CHOICES:
        errors.add(path, max_length(MAX_CHOICES))
    low, high = CHOICE_NAME_LENGTH
    for index, choice in enumerate(choices):
        if not isinstance(choice, dict):
            errors.add([*path, index], REQUIRED)
            continue
        name = choice.get("name")
        if not isinstance(name, str) or not low <= len(name) <= high:
            errors.add([*path, index, "name"], bad_length(low, high))
        value = choice.get("value")
        if value is None:
            errors.add([*path, index, "value"], REQUIRED)
        elif isinstance(value, str) and len(value) > MAX_CHOICE_STRING_VALUE:
            errors.add([*path, index, "value"], max_length(MAX_CHOICE_STRING_VALUE))


def check_commands(body: Any) -> None:
    """A bulk overwrite: every command's name, description, options and choices."""
    errors = FormErrors()
    if not isinstance(body, list):
        errors.add([], ("BASE_TYPE_ARRAY", "Must be an array"))
        errors.raise_any()
        return
    for index, command in enumerate(body):
        _check_command(errors, [index], command)
    errors.raise_any()


def _check_command(errors: FormErrors, path: list[str | int], command: Any) -> None:
    if not isinstance(command, dict) or not isinstance(command.get("name"), str):
        errors.add([*path, "name"], REQUIRED)
        return
    name = command["name"]
    chat_input = command.get("type") in (None, 1)
    low, high = COMMAND_NAME_LENGTH
    if not low <= len(name) <= high or (chat_input and name != name.lower()):
        errors.add([*path, "name"], ("APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid"))
    if chat_input:
        _check_description(errors, [*path, "description"], command.get("description"))
    permissions = command.get("default_member_permissions")
    if permissions is not None and not str(permissions).isdigit():
        errors.add(
            [*path, "default_member_permissions"],
            ("NUMBER_TYPE_COERCE", f'Value "{permissions}" is not int.'),
        )
    _check_options(errors, [*path, "options"], command.get("options"))


def _check_description(errors: FormErrors, path: list[str | int], text: Any) -> None:
    low, high = DESCRIPTION_LENGTH
    if not isinstance(text, str) or not low <= len(text) <= high:
        errors.add(path, bad_length(low, high))


def _check_options(errors: FormErrors, path: list[str | int], options: Any) -> None:
    if not isinstance(options, list):
        return
    if len(options) > MAX_OPTIONS:
        errors.add(path, max_length(MAX_OPTIONS))
    low, high = COMMAND_NAME_LENGTH
    for index, option in enumerate(options):
        where = [*path, index]
        if not isinstance(option, dict):
            errors.add(where, REQUIRED)
            continue
        name = option.get("name")
        if not isinstance(name, str) or not low <= len(name) <= high or name != name.lower():
            errors.add(
                [*where, "name"], ("APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")
            )
        _check_description(errors, [*where, "description"], option.get("description"))
        if isinstance(option.get("choices"), list):
            _check_choices(errors, [*where, "choices"], option["choices"])
        _check_options(errors, [*where, "options"], option.get("options"))
