"""Helpers for the bot tests: linking members, imports, reading runs, DM payloads, limits."""

from __future__ import annotations

import base64
import copy
import json
import os
import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from hatchet_sdk import Hatchet
from hatchet_sdk.clients.rest.models.rate_limit import RateLimit
from hatchet_sdk.clients.rest.models.v1_task_status import V1TaskStatus
from hatchet_sdk.clients.rest.models.v1_task_summary import V1TaskSummary
from hatchet_sdk.config import TenacityConfig
from sqlalchemy import select

from bot.dispatch import WorkflowDispatcher
from bot.services import BotServices
from fakes.discord_records import InteractionCallback
from fakes.interactions import APPLICATION_COMMAND, FakeUser, InteractionDriver, InteractionHandle
from fakes.spotify import FakeSpotify
from music.spotify import SCOPES
from storage import accounts, catalog, imports
from storage.catalog import TrackData
from storage.enums import PlaylistStatus
from storage.models import Import, ImportItem
from tests.waiting import async_wait_until
from workflows.client import create_hatchet
from workflows.contracts import ShareInput
from workflows.rate_limits import SPOTIFY_APP_KEY

EPHEMERAL = 64
DEADLINE_SECONDS = 3.0


@dataclass(frozen=True)
class Member:
    """A Discord member and, if any, the fake Spotify account they own."""

    user: FakeUser
    spotify_id: str | None

    @property
    def id(self) -> int:
        return self.user.id


async def link_directly(services: BotServices, fake: FakeSpotify, member: Member) -> None:
    """Store a grant the way a finished /link would (for tests not about OAuth)."""
    assert member.spotify_id is not None
    grant = fake.issue_token(member.spotify_id)
    assert grant.refresh_token is not None
    async with services.sessions.begin() as session:
        await accounts.save_linked_account(
            session,
            services.cipher,
            discord_user_id=member.id,
            spotify_user_id=member.spotify_id,
            refresh_token=grant.refresh_token,
            scopes=list(SCOPES),
            display_name=fake.users[member.spotify_id].display_name,
            access_token=grant.access_token,
            access_token_expires_at=datetime.now(UTC) + timedelta(seconds=grant.expires_in),
        )


async def add_entry(
    services: BotServices,
    guild_id: int,
    owner: int,
    name: str,
    *,
    tracks: int = 0,
    playlist_id: str | None = None,
    status: PlaylistStatus = PlaylistStatus.READY,
) -> int:
    """A catalog entry as a finished share workflow would leave it."""
    provider_id = playlist_id or f"{abs(hash((guild_id, name))) % 10**22:022d}"
    async with services.sessions.begin() as session:
        entry_id = await catalog.upsert_catalog_playlist(
            session,
            guild_id=guild_id,
            owner_discord_user_id=owner,
            provider_playlist_id=provider_id,
            url=f"https://open.spotify.com/playlist/{provider_id}",
            name=name,
            status=status,
        )
        await catalog.update_catalog_metadata(
            session, entry_id, name=name, description=None, owner_display_name="Spotify Owner"
        )
        await catalog.replace_catalog_tracks(
            session,
            entry_id,
            [
                TrackData(title=f"Song {i + 1}", artists=(f"Artist {i + 1}",), duration_ms=61_000)
                for i in range(tracks)
            ],
        )
    return entry_id


async def add_import(
    services: BotServices, guild_id: int, member: int, entry_id: int, channel_id: int
) -> int:
    """A queued import with its ledger, as `/import` creates it (no run, no message)."""
    async with services.sessions.begin() as session:
        imp = await imports.create_import_with_ledger(
            session,
            guild_id=guild_id,
            discord_user_id=member,
            catalog_playlist_id=entry_id,
            channel_id=channel_id,
        )
        return imp.id


async def import_rows(services: BotServices) -> list[Import]:
    """Every import in the database, oldest first."""
    async with services.sessions.begin() as session:
        return list((await session.scalars(select(Import).order_by(Import.id))).all())


async def get_import(services: BotServices, import_id: int) -> Import:
    """One import as stored now."""
    async with services.sessions.begin() as session:
        imp = await imports.get_import(session, import_id)
    assert imp is not None, import_id
    return imp


async def ledger(services: BotServices, import_id: int) -> list[ImportItem]:
    """The import's ledger rows in position order."""
    async with services.sessions.begin() as session:
        return await imports.list_items(session, import_id)


# -- Hatchet runs -------------------------------------------------------------------------


def offline_hatchet() -> Hatchet:
    """A Hatchet client for tests that dispatch nothing, built without an engine.

    Its (unsigned) token names the discard port, so nothing is contacted when it is built
    and any call it does make fails at once instead of reaching some engine.
    """

    def part(value: dict[str, str]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    claims = {
        "sub": str(uuid.uuid4()),
        "server_url": "http://127.0.0.1:9",
        "grpc_broadcast_address": "127.0.0.1:9",
    }
    token = f"{part({'alg': 'none'})}.{part(claims)}.unsigned"
    with pytest.MonkeyPatch.context() as patch:
        for key in [k for k in os.environ if k.startswith("HATCHET_CLIENT_")]:
            patch.delenv(key)
        patch.setenv("HATCHET_CLIENT_TOKEN", token)
        patch.setenv("HATCHET_CLIENT_TLS_STRATEGY", "none")
        hatchet = create_hatchet()
    # Refused means refused: the SDK's retries (5 attempts, backoff) would turn each call
    # into 17 s of waiting. Its TENACITY_ variable is read once, at import, so set here.
    hatchet.config.tenacity = TenacityConfig(max_attempts=1)
    return hatchet


async def wait_for_run_status(
    hatchet: Hatchet, run_id: str, status: V1TaskStatus, within: float = 10.0
) -> V1TaskStatus:
    """Poll a run until the engine reports `status` (or the deadline passes)."""
    seen: list[V1TaskStatus] = []

    async def reached() -> bool:
        seen.append(await hatchet.runs.aio_get_status(run_id))
        return seen[-1] == status

    await async_wait_until(
        reached,
        timeout=within,
        message=lambda _: f"run {run_id} is {seen[-1]}, not {status}, after {within}s",
    )
    return seen[-1]


async def runs_for_guild(hatchet: Hatchet, guild_id: int) -> list[V1TaskSummary]:
    """Runs carrying this guild in their metadata (every test has its own guild)."""
    since = datetime.now(UTC) - timedelta(hours=1)
    metadata = {"guild_id": str(guild_id)}
    listed = await hatchet.runs.aio_list(since=since, additional_metadata=metadata)
    return list(listed.rows)


async def wait_for_runs(
    hatchet: Hatchet, guild_id: int, count: int, within: float = 10.0
) -> list[V1TaskSummary]:
    """Poll until at least `count` runs are listed for the guild."""
    rows: list[V1TaskSummary] = []

    async def listed() -> bool:
        rows[:] = await runs_for_guild(hatchet, guild_id)
        return len(rows) >= count

    await async_wait_until(
        listed,
        timeout=within,
        message=lambda _: f"{len(rows)} of {count} runs listed for guild {guild_id}",
    )
    return rows


async def settled_runs(
    hatchet: Hatchet, dispatcher: WorkflowDispatcher, guild_id: int, within: float = 10.0
) -> list[V1TaskSummary]:
    """Every run dispatched for the guild so far, excluding the markers (this one dispatched
    last, and those of earlier calls).

    Absence needs a barrier: the marker goes through the same dispatcher after the code
    under test has finished, and once it is listed, anything dispatched before it is too.
    """
    marker = await dispatcher.share_playlist(
        ShareInput(catalog_playlist_id=0, sharer_discord_user_id=0, channel_id=0),
        guild_id=guild_id,
        user_id=0,
    )
    rows: list[V1TaskSummary] = []

    async def marker_listed() -> bool:
        rows[:] = await runs_for_guild(hatchet, guild_id)
        return any(row.workflow_run_external_id == marker for row in rows)

    await async_wait_until(
        marker_listed, timeout=within, message=f"marker run {marker} not listed within {within}s"
    )
    return [row for row in rows if not _is_marker(row)]


def _is_marker(row: V1TaskSummary) -> bool:
    """A `settled_runs` barrier: a share of catalog entry 0 by user 0."""
    metadata = row.additional_metadata or {}
    return metadata.get("catalog_playlist_id") == "0" and metadata.get("user_id") == "0"


# -- Discord --------------------------------------------------------------------------------


def pick(row_id: int) -> str:
    """The option value a member submits by picking a suggestion: the row's id, marked `#`."""
    return f"#{row_id}"


def reply_text(reply: InteractionCallback) -> str:
    """Content and embed text of an initial response, joined (for `in` checks)."""
    return "\n".join([reply.content or "", embed_text(reply.embeds)])


async def unshare_prompt(
    driver: InteractionDriver, value: str, **kwargs: Any
) -> tuple[InteractionHandle, dict[str, Any]]:
    """Run /unshare up to its private confirmation prompt (the buttons are then live)."""
    handle = await driver.slash("unshare", {"playlist": value}, **kwargs)
    reply = await handle.response()
    await handle.finished()
    assert reply.ephemeral, reply
    return handle, await handle.original()


async def unshare_confirmed(driver: InteractionDriver, value: str, **kwargs: Any) -> str:
    """Run /unshare, press Remove, and return what the prompt says afterwards."""
    handle, prompt = await unshare_prompt(driver, value, **kwargs)
    press = await driver.press(
        int(prompt["id"]),
        button_ids(prompt)["Remove"],
        user=kwargs.get("user"),
        permissions=kwargs.get("permissions"),
    )
    await press.response()
    await press.finished()
    final = await handle.original(until=lambda m: not button_ids(m))
    return str(final.get("content") or "")


def dm_slash(
    driver: InteractionDriver, name: str, options: dict[str, Any], user: FakeUser
) -> InteractionHandle:
    """A slash command from a DM: no guild, no member, a DM channel (Discord's shape)."""
    fake = driver.fake
    channel_id = fake.add_channel(guild_id=0, name="dm")
    ticket = fake.issue_interaction(
        APPLICATION_COMMAND, channel_id=channel_id, guild_id=None, user=user.payload(), name=name
    )
    data = driver.command_data(name, options)
    data.pop("guild_id", None)
    payload = driver.interaction_payload(APPLICATION_COMMAND, ticket, data, user, channel_id, 0)
    for key in ("guild_id", "guild", "member", "guild_locale"):
        payload.pop(key, None)
    payload["user"] = user.payload()
    payload["channel"] = {"id": str(channel_id), "type": 1, "recipients": [user.payload()]}
    payload["context"] = 1
    payload["authorizing_integration_owners"] = {"1": str(user.id)}
    return InteractionHandle(driver, ticket, payload, driver.feed(copy.deepcopy(payload)))


def button_ids(message: dict[str, Any]) -> dict[str, str]:
    """Label -> custom_id of the buttons on a message."""
    found: dict[str, str] = {}
    for row in message.get("components") or []:
        for item in row.get("components") or []:
            if item.get("type") == 2 and item.get("custom_id"):
                found[item["label"]] = item["custom_id"]
    return found


def disabled_buttons(message: dict[str, Any]) -> dict[str, bool]:
    """Label -> disabled of the buttons on a message."""
    return {
        item["label"]: bool(item.get("disabled"))
        for row in message.get("components") or []
        for item in row.get("components") or []
        if item.get("type") == 2
    }


def link_url(data: dict[str, Any]) -> str:
    """The URL on the link button of a /link answer."""
    for row in data.get("components") or []:
        for item in row.get("components") or []:
            if item.get("url"):
                return str(item["url"])
    raise AssertionError(f"no link button in {data}")


def embed_text(embeds: Iterable[dict[str, Any]]) -> str:
    """Every visible string of some embeds, joined (for `in` checks)."""
    parts: list[str] = []
    for embed in embeds:
        parts += [embed.get("title") or "", embed.get("description") or ""]
        for field in embed.get("fields") or []:
            parts += [field.get("name") or "", field.get("value") or ""]
        parts.append((embed.get("footer") or {}).get("text") or "")
    return "\n".join(parts)


#: What Discord makes a link of in messages and embeds: a URL with its scheme, bare or in
#: angle brackets (the rule discord.py's `escape_markdown` follows).
_CLICKABLE = re.compile(r"<[^: >]+:/[^ >]+>|(?:https?|steam)://[^\s<]+")


def clickable_links(text: str) -> list[str]:
    """Every stretch of `text` Discord would turn into a link."""
    return _CLICKABLE.findall(text)


def assert_discord_limits(embeds: Sequence[dict[str, Any]]) -> None:
    """Discord's embed limits: the fake does not enforce them, so the tests do."""
    for embed in embeds:
        title = embed.get("title") or ""
        description = embed.get("description") or ""
        fields = embed.get("fields") or []
        footer = (embed.get("footer") or {}).get("text") or ""
        assert len(title) <= 256, len(title)
        assert len(description) <= 4096, len(description)
        assert len(fields) <= 25
        assert len(footer) <= 2048
        total = len(title) + len(description) + len(footer)
        for field in fields:
            assert len(field["name"]) <= 256 and len(field["value"]) <= 1024
            total += len(field["name"]) + len(field["value"])
        assert total <= 6000, total


def assert_no_mentions_allowed(body: dict[str, Any]) -> None:
    """`allowed_mentions` present and empty: nobody can be pinged by this message."""
    allowed = body.get("allowed_mentions")
    assert allowed is not None, f"allowed_mentions missing from {body}"
    assert allowed.get("parse") == []
    assert not allowed.get("users") and not allowed.get("roles")


async def http_get(url: str) -> tuple[int, str, dict[str, str]]:
    """Open a URL as the member's browser would (no redirects followed)."""
    async with (
        aiohttp.ClientSession() as session,
        session.get(url, allow_redirects=False) as response,
    ):
        return response.status, await response.text(), dict(response.headers)


async def rate_limit(hatchet: Hatchet, key: str) -> RateLimit | None:
    """The engine's bucket named `key` exactly (its list searches by substring)."""
    rows = (await hatchet.rate_limits.aio_list(search=key)).rows or []
    return next((r for r in rows if r.key == key), None)


async def app_bucket_holds(hatchet: Hatchet, units: int, within: float = 90.0) -> None:
    """Wait until the engine's app-wide Spotify bucket holds `units`, or its refill is due.

    The bucket (`spotify-app`) is the tenant's: every test's worker on the session's engine
    draws from it, so a test that counts what runs while another import waits starts with
    room in it, or a step refused by it waits for the refill (up to a minute) mid-count.
    """

    async def room() -> bool:
        bucket = await rate_limit(hatchet, SPOTIFY_APP_KEY)
        if bucket is None:
            return True  # not declared yet: the first worker fills it
        age = datetime.now(UTC) - bucket.last_refill
        return bucket.value >= units or age >= timedelta(minutes=1)

    await async_wait_until(
        room, timeout=within, interval=0.5, message=f"the app's bucket never held {units} units"
    )
