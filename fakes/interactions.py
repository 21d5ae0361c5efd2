"""Drive a real discord.py client with raw interaction payloads, against `FakeDiscord`.

The driver builds the payload Discord would send (every field discord.py 2.7 reads) and
has the fake mint its id and token. In-process, it feeds the payload to
`client._connection.parse_interaction_create` (private API: it stays in this module), so
a logged-in client needs no gateway. `InteractionDriver.over_gateway(fake)` instead sends
it as an INTERACTION_CREATE dispatch through the fake's gateway, to a bot that runs
`bot.start()` in another task or process; option types then come from the commands the
bot synced to the fake. Either way the bot answers over HTTP to the fake, where the
handle returned to the test finds the answer.

    async with logged_in(bot, fake):
        driver = InteractionDriver(bot, fake)
        handle = await driver.slash("ping")
        reply = await handle.response()
        assert reply.ephemeral and reply.content == "pong"
"""

from __future__ import annotations

import asyncio
import copy
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import discord
from discord import app_commands
from discord.http import Route

from fakes.discord_api import FakeDiscord
from fakes.discord_gateway import gateway_url_for, point_discord_py_at
from fakes.discord_models import JSON, iso, user_payload
from fakes.discord_records import InteractionCallback, InteractionTicket

ClientT = TypeVar("ClientT", bound=discord.Client)
T = TypeVar("T")

APPLICATION_COMMAND, MESSAGE_COMPONENT, AUTOCOMPLETE = 2, 3, 4
BUTTON, STRING_SELECT = 2, 3
ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024
MEMBER_PERMISSIONS = discord.Permissions(
    view_channel=True,
    send_messages=True,
    embed_links=True,
    attach_files=True,
    add_reactions=True,
    read_message_history=True,
    use_application_commands=True,
).value
MANAGE_GUILD = discord.Permissions(manage_guild=True).value
APP_PERMISSIONS = MEMBER_PERMISSIONS


@contextmanager
def discord_api_base(api_base: str) -> Iterator[None]:
    """Send discord.py's requests, and its gateway connection, to the fake at `api_base`.

    Restores both afterwards.
    """
    previous = Route.BASE
    Route.BASE = api_base
    previous_gateway = point_discord_py_at(gateway_url_for(api_base))
    try:
        yield
    finally:
        Route.BASE = previous
        point_discord_py_at(previous_gateway)


@asynccontextmanager
async def logged_in(client: ClientT, fake: FakeDiscord) -> AsyncIterator[ClientT]:
    """Point discord.py at the fake, log `client` in (runs `setup_hook`), close after."""
    with discord_api_base(fake.api_base):
        await client.login(fake.token)
        try:
            yield client
        finally:
            await client.close()


@dataclass(frozen=True)
class FakeUser:
    """A member who triggers interactions."""

    id: int
    name: str

    def payload(self) -> JSON:
        """The `user` object Discord sends."""
        return user_payload(self.id, self.name)


class _ErrorLog(logging.Handler):
    """Keeps discord.py's logged errors (a failing command is only logged)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(self.format(record))


class InteractionHandle:
    """One fed interaction: its id and token, and ways to await what the bot answered."""

    def __init__(
        self,
        driver: InteractionDriver,
        ticket: InteractionTicket,
        payload: JSON,
        tasks: list[asyncio.Task[Any]],
    ) -> None:
        self._driver = driver
        self.id = ticket.id
        self.token = ticket.token
        self.payload = payload
        self._tasks = tasks

    async def finished(self, within: float = 5.0) -> None:
        """Wait for the tasks discord.py started for this interaction; re-raise a crash."""
        if not self._tasks:
            return
        done, pending = await asyncio.wait(self._tasks, timeout=within)
        if pending:
            raise TimeoutError(self._driver.explain(f"handler still running after {within}s"))
        for task in done:
            if not task.cancelled() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]

    async def response(self, within: float = 5.0) -> InteractionCallback:
        """The initial response (type, data, ephemeral, choices) once the bot sent it."""
        return await self._wait(lambda: self._driver.fake.interaction_response(self.id), within)

    async def original(
        self, until: Callable[[JSON], bool] | None = None, within: float = 5.0
    ) -> JSON:
        """The `@original` message, once it exists (and satisfies `until`, if given)."""

        def check() -> JSON | None:
            message = self._driver.fake.original_response(self.token)
            return message if message is not None and (until is None or until(message)) else None

        return await self._wait(check, within)

    async def followups(self, count: int = 1, within: float = 5.0) -> list[JSON]:
        """The followup messages, once at least `count` exist."""

        def check() -> list[JSON] | None:
            found = self._driver.fake.followups(self.token)
            return found if len(found) >= count else None

        return await self._wait(check, within)

    async def _wait(self, probe: Callable[[], T | None], within: float) -> T:
        try:
            return await self._driver.fake.async_wait_for(probe, within)
        except TimeoutError as error:
            raise TimeoutError(self._driver.explain(str(error))) from None


class InteractionDriver:
    """Builds interaction payloads for one guild member and delivers them to a bot.

    With a `client`, payloads are fed to it in-process; with `client=None` (see
    `over_gateway`) they go out as gateway dispatches.
    """

    def __init__(
        self,
        client: discord.Client | None,
        fake: FakeDiscord,
        *,
        user: FakeUser | None = None,
        guild_id: int | None = None,
        channel_id: int | None = None,
        permissions: int | discord.Permissions = MEMBER_PERMISSIONS,
        locale: str = "en-US",
        tree: app_commands.CommandTree[Any] | None = None,
    ) -> None:
        self.client = client
        self.fake = fake
        self.user = user or FakeUser(fake.ids.next(time.time()), "member")
        self.guild_id = guild_id if guild_id is not None else fake.guild_id
        self.channel_id = channel_id if channel_id is not None else fake.channel_id
        self.permissions = _perm_value(permissions)
        self.locale = locale
        self.tree = tree if tree is not None else getattr(client, "tree", None)
        self.transport: Literal["in-process", "gateway"] = (
            "gateway" if client is None else "in-process"
        )
        self._errors = _ErrorLog()
        logging.getLogger("discord").addHandler(self._errors)

    @classmethod
    def over_gateway(
        cls,
        fake: FakeDiscord,
        *,
        user: FakeUser | None = None,
        guild_id: int | None = None,
        channel_id: int | None = None,
        permissions: int | discord.Permissions = MEMBER_PERMISSIONS,
        locale: str = "en-US",
    ) -> InteractionDriver:
        """A driver for a bot connected to `fake`'s gateway, wherever it runs.

        Needs no client object: option types, command ids and scopes come from what the
        bot synced (`fake.commands()`). `handle.finished()` cannot see the bot's tasks in
        this mode; wait on `response()`, `original()` or `followups()` instead.
        """
        return cls(
            None,
            fake,
            user=user,
            guild_id=guild_id,
            channel_id=channel_id,
            permissions=permissions,
            locale=locale,
        )

    def close(self) -> None:
        """Stop collecting discord.py's error log."""
        logging.getLogger("discord").removeHandler(self._errors)

    def __enter__(self) -> InteractionDriver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def errors(self) -> list[str]:
        """Errors discord.py logged since the driver started (failed commands, views)."""
        return list(self._errors.records)

    def explain(self, problem: str) -> str:
        """A timeout message with discord.py's logged errors, for a useful failure."""
        logged = "\n".join(self._errors.records[-3:]) or "none"
        return f"{problem}\ndiscord.py logged errors: {logged}"

    # -- feeding ----------------------------------------------------------------------

    async def slash(
        self,
        name: str,
        options: Mapping[str, Any] | None = None,
        *,
        group: str | None = None,
        subcommand: str | None = None,
        user: FakeUser | None = None,
        channel_id: int | None = None,
        permissions: int | discord.Permissions | None = None,
    ) -> InteractionHandle:
        """Invoke `/name [group] [subcommand] option:value ...` as the member."""
        data = self.command_data(name, options or {}, group=group, subcommand=subcommand)
        return self._send(APPLICATION_COMMAND, name, data, user, channel_id, permissions)

    async def autocomplete(
        self,
        name: str,
        options: Mapping[str, Any],
        *,
        focused: str,
        group: str | None = None,
        subcommand: str | None = None,
        user: FakeUser | None = None,
        channel_id: int | None = None,
    ) -> InteractionHandle:
        """The member typing into option `focused` (the others already filled in)."""
        if focused not in options:
            raise ValueError(f"focused option {focused!r} needs a (partial) value in options")
        data = self.command_data(name, options, group=group, subcommand=subcommand, focused=focused)
        return self._send(AUTOCOMPLETE, name, data, user, channel_id, None)

    async def press(
        self,
        message_id: int,
        custom_id: str,
        *,
        component_type: int = BUTTON,
        values: list[str] | None = None,
        user: FakeUser | None = None,
        permissions: int | discord.Permissions | None = None,
    ) -> InteractionHandle:
        """Click a button (or pick `values` in a select) on a message the fake holds."""
        message = self.fake.message_by_id(message_id)
        if message is None:
            raise LookupError(f"the fake holds no message {message_id}")
        data: JSON = {"custom_id": custom_id, "component_type": component_type}
        if values is not None:
            data["values"] = list(values)
        return self._send(
            MESSAGE_COMPONENT,
            custom_id,
            data,
            user,
            int(message["channel_id"]),
            permissions,
            message=message,
        )

    def feed(self, payload: JSON) -> list[asyncio.Task[Any]]:
        """Hand a raw INTERACTION_CREATE payload to the client; returns the tasks it began."""
        if self.client is None:
            raise RuntimeError("a gateway driver has no client to feed; it dispatches instead")
        before = asyncio.all_tasks()
        # discord.py mutates parts of the payload (guild data), so give it a copy.
        self.client._connection.parse_interaction_create(copy.deepcopy(payload))  # type: ignore[arg-type]
        return [task for task in asyncio.all_tasks() if task not in before]

    def _send(
        self,
        kind: int,
        name: str,
        data: JSON,
        user: FakeUser | None,
        channel_id: int | None,
        permissions: int | discord.Permissions | None,
        *,
        message: JSON | None = None,
    ) -> InteractionHandle:
        who = user or self.user
        channel = self.fake.add_channel(channel_id if channel_id is not None else self.channel_id)
        perms = self.permissions if permissions is None else _perm_value(permissions)
        if self.transport == "gateway":
            # The fake mints id and token from the payload (as below) while dispatching it.
            payload = self.interaction_payload(kind, _UNISSUED, data, who, channel, perms)
            if message is not None:
                payload["message"] = message
            ticket = self.fake.dispatch_interaction(payload)
            payload.update(id=str(ticket.id), token=ticket.token)
            return InteractionHandle(self, ticket, payload, [])
        ticket = self.fake.issue_interaction(
            kind,
            channel_id=channel,
            guild_id=self.guild_id,
            user=who.payload(),
            name=name,
            message_id=int(message["id"]) if message else None,
        )
        payload = self.interaction_payload(kind, ticket, data, who, channel, perms)
        if message is not None:
            payload["message"] = message
        return InteractionHandle(self, ticket, payload, self.feed(payload))

    # -- payload builders ---------------------------------------------------------------

    def interaction_payload(
        self,
        kind: int,
        ticket: InteractionTicket,
        data: JSON,
        user: FakeUser,
        channel_id: int,
        permissions: int,
    ) -> JSON:
        """An INTERACTION_CREATE payload from a guild channel, as Discord sends it."""
        guild = str(self.guild_id)
        channel = self.fake.channel(channel_id, access=False)
        channel["permissions"] = str(permissions)
        return {
            "id": str(ticket.id),
            "application_id": str(self.fake.application_id),
            "type": kind,
            "data": data,
            "token": ticket.token,
            "version": 1,
            "guild_id": guild,
            "guild": {"id": guild, "locale": self.locale, "features": []},
            "channel_id": str(channel_id),
            "channel": channel,
            "member": self.member_payload(user, permissions),
            "app_permissions": str(APP_PERMISSIONS),
            "locale": self.locale,
            "guild_locale": self.locale,
            "entitlements": [],
            "entitlement_sku_ids": [],
            "authorizing_integration_owners": {"0": guild},
            "context": 0,
            "attachment_size_limit": ATTACHMENT_SIZE_LIMIT,
        }

    def member_payload(self, user: FakeUser, permissions: int) -> JSON:
        """A guild member with their resolved channel permissions."""
        return {
            "user": user.payload(),
            "roles": [],
            "joined_at": iso(time.time() - 86_400),
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "nick": None,
            "avatar": None,
            "banner": None,
            "communication_disabled_until": None,
            "permissions": str(permissions),
        }

    def command_data(
        self,
        name: str,
        options: Mapping[str, Any],
        *,
        group: str | None = None,
        subcommand: str | None = None,
        focused: str | None = None,
    ) -> JSON:
        """`data` of a chat-input command: options typed from the tree's definition.

        Without a tree (or for a command it lacks), types come from the synced commands.
        """
        command, guild_scoped = self._lookup(name, group, subcommand)
        synced = self._synced_types(name, group, subcommand, guild_scoped)
        resolved: JSON = {}
        built = [
            self._option(
                key, value, _param_type(command, key) or synced.get(key), resolved, key == focused
            )
            for key, value in options.items()
        ]
        if subcommand is not None:
            built = [{"type": 1, "name": subcommand, "options": built}]
        if group is not None:
            built = [{"type": 2, "name": group, "options": built}]
        data: JSON = {"id": str(self._command_id(name, guild_scoped)), "name": name, "type": 1}
        data["options"] = built
        if resolved:
            data["resolved"] = resolved
        if guild_scoped:
            data["guild_id"] = str(self.guild_id)
        return data

    def _lookup(self, name: str, group: str | None, subcommand: str | None) -> tuple[Any, bool]:
        """The tree's command (or None if unknown) and whether it is guild-scoped."""
        if self.tree is None:
            scoped = any(c["name"] == name for c in self.fake.commands(self.guild_id))
            return None, scoped
        command: Any = self.tree.get_command(name, guild=discord.Object(self.guild_id))
        guild_scoped = command is not None
        if command is None:
            command = self.tree.get_command(name)
        for child in (group, subcommand):
            if child is not None and isinstance(command, app_commands.Group):
                command = command.get_command(child)
        return command, guild_scoped

    def _synced_types(
        self, name: str, group: str | None, subcommand: str | None, guild_scoped: bool
    ) -> dict[str, int]:
        """Option name -> type of the command as the bot synced it to the fake."""
        scope = self.guild_id if guild_scoped else None
        options: list[JSON] = next(
            (c.get("options") or [] for c in self.fake.commands(scope) if c["name"] == name), []
        )
        for child in (group, subcommand):
            if child is not None:
                options = next((o.get("options") or [] for o in options if o["name"] == child), [])
        return {o["name"]: int(o["type"]) for o in options if o.get("type") not in (1, 2)}

    def _command_id(self, name: str, guild_scoped: bool) -> int:
        """The id the fake gave the command at sync, or a fresh one if never synced."""
        scope = self.guild_id if guild_scoped else None
        for command in self.fake.commands(scope):
            if command["name"] == name:
                return int(command["id"])
        return self.fake.ids.next(time.time())

    def _option(
        self, name: str, value: Any, known: int | None, resolved: JSON, focused: bool
    ) -> JSON:
        """One option; users go into `resolved` as user plus member, like Discord's."""
        kind = known if known is not None else _infer_type(value)
        option: JSON = {"name": name, "type": kind}
        if kind in (6, 9) and isinstance(value, FakeUser):
            resolved.setdefault("users", {})[str(value.id)] = value.payload()
            member = self.member_payload(value, self.permissions)
            del member["user"]
            resolved.setdefault("members", {})[str(value.id)] = member
            option["value"] = str(value.id)
        elif kind in (6, 7, 8, 9, 11):
            option["value"] = str(getattr(value, "id", value))
        else:
            option["value"] = value
        if focused:
            option["focused"] = True
        return option


# Stands in for the id and token the fake mints while dispatching over the gateway.
_UNISSUED = InteractionTicket(0, "")


def _perm_value(permissions: int | discord.Permissions) -> int:
    return permissions.value if isinstance(permissions, discord.Permissions) else int(permissions)


def _param_type(command: Any, key: str) -> int | None:
    """The option type the command declares for `key` (Python or display name)."""
    if not isinstance(command, app_commands.Command):
        return None
    for parameter in command.parameters:
        if key in (parameter.name, parameter.display_name):
            return int(parameter.type.value)
    return None


def _infer_type(value: Any) -> int:
    """Option type from a Python value, for commands the tree does not know."""
    if isinstance(value, bool):
        return 5
    if isinstance(value, int):
        return 4
    if isinstance(value, float):
        return 10
    if isinstance(value, FakeUser):
        return 6
    return 3
