"""Buttons: the pager behind `/catalog browse`, `/catalog show` and `/imports`, and the
private confirmation before `/unshare` removes anything.

custom_id scheme: ``mixtape:<area>:<action>:<nonce>``

- ``area`` is the feature the component belongs to (``catalog``, ``tracks``, ``unshare``);
- ``action`` is what the button does (``prev``, ``next``, ``confirm``, ``cancel``);
- ``nonce`` is random per view instance, so two live pagers in one channel never answer
  each other's presses.

These buttons are not persistent: they die with their view (on timeout, or when the bot
restarts), and discord.py routes presses by message id and custom_id. A future persistent
button (e.g. "Import") must not carry a nonce but its argument instead
(``mixtape:import:<catalog_id>``), registered as a `discord.ui.DynamicItem` whose template
matches that pattern, so it still works after a restart. Everything stays under 100
characters, Discord's custom_id limit.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

import discord

from bot import error_handler
from voice import replies

log = logging.getLogger(__name__)

PREFIX = "mixtape"
#: An interaction token lives 15 minutes; the pager must disable itself before that.
MAX_TIMEOUT_SECONDS = 14 * 60.0

PageLoader = Callable[[int], Awaitable[tuple[discord.Embed, replies.PageInfo]]]


def custom_id(area: str, action: str, nonce: str) -> str:
    """Build an id following the scheme above."""
    value = f"{PREFIX}:{area}:{action}:{nonce}"
    if len(value) > 100:
        raise ValueError(f"custom_id over 100 characters: {value!r}")
    return value


def parse_custom_id(value: str) -> tuple[str, str, str] | None:
    """(area, action, nonce) of one of our ids, or None for anything else."""
    parts = value.split(":")
    if len(parts) != 4 or parts[0] != PREFIX:
        return None
    return parts[1], parts[2], parts[3]


class Pager(discord.ui.View):
    """Previous/Next over pages that a loader renders; only the member who opened it pages.

    Pages are read afresh on every press, so entries shared or removed meanwhile show up
    correctly and the page count follows them. On timeout the buttons are disabled by
    editing the original response, so nobody presses a dead button.
    """

    def __init__(
        self,
        *,
        area: str,
        owner: discord.abc.User,
        load: PageLoader,
        page: replies.PageInfo,
        timeout: float,
    ) -> None:
        super().__init__(timeout=min(timeout, MAX_TIMEOUT_SECONDS))
        self.owner_id = owner.id
        self.owner_name = owner.display_name
        self.load = load
        self.page = page
        self.origin: discord.Interaction | None = None
        nonce = secrets.token_hex(4)
        self.previous = _PageButton(replies.PREVIOUS, custom_id(area, "prev", nonce), step=-1)
        self.next = _PageButton(replies.NEXT, custom_id(area, "next", nonce), step=1)
        self.add_item(self.previous)
        self.add_item(self.next)
        self._sync_buttons()

    def attach(self, interaction: discord.Interaction) -> None:
        """Remember the response this pager sits on, to disable it on timeout."""
        self.origin = interaction

    def _sync_buttons(self) -> None:
        self.previous.disabled = self.page.index <= 0
        self.next.disabled = self.page.index >= self.page.count - 1

    async def show(self, interaction: discord.Interaction, index: int) -> None:
        """Render page `index` into the message the button sits on."""
        embed, self.page = await self.load(index)
        self._sync_buttons()
        await interaction.response.edit_message(embed=embed, view=self)

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        """Others may look but not page; they get told so privately."""
        if interaction.user.id == self.owner_id:
            return True
        await interaction.response.send_message(
            replies.only_invoker_can_page(self.owner_name), ephemeral=True
        )
        return False

    async def on_timeout(self) -> None:
        """Disable the buttons in place; a vanished message or token is not an error."""
        for item in self.children:
            if isinstance(item, discord.ui.Button):
                item.disabled = True
        if self.origin is None:
            return
        try:
            await self.origin.edit_original_response(view=self)
        except discord.HTTPException as exc:
            log.info("could not disable an expired pager: %s", exc)

    async def on_error(
        self, interaction: discord.Interaction, error: Exception, item: discord.ui.Item[Any]
    ) -> None:
        """Same replies as commands get."""
        await error_handler.report(interaction, error)


class _PageButton(discord.ui.Button[Pager]):
    """Moves its pager `step` pages."""

    def __init__(self, label: str, custom_id: str, *, step: int) -> None:
        super().__init__(label=label, style=discord.ButtonStyle.secondary, custom_id=custom_id)
        self.step = step

    async def callback(self, interaction: discord.Interaction) -> None:
        """One press: the pager re-reads and shows the neighbouring page."""
        assert self.view is not None
        await self.view.show(interaction, self.view.page.index + self.step)


#: Run when the member confirms; returns what the prompt says afterwards.
Decision = Callable[[discord.Interaction], Awaitable[str]]


class Confirm(discord.ui.View):
    """A private yes/no before a destructive action: only the confirm press acts.

    Only the member who ran the command may press. Cancel and the timeout act on nothing;
    on timeout both buttons are disabled in place, so a stale prompt can't be confirmed.
    If the action is refused (e.g. the member lost the right meanwhile), the prompt stays
    and the refusal is sent privately, like any command error.
    """

    def __init__(
        self,
        *,
        area: str,
        owner: discord.abc.User,
        confirm_label: str,
        on_confirm: Decision,
        cancelled: str,
        expired: str,
        timeout: float,
    ) -> None:
        super().__init__(timeout=min(timeout, MAX_TIMEOUT_SECONDS))
        self.owner_id = owner.id
        self.owner_name = owner.display_name
        self.on_confirm = on_confirm
        self.cancelled = cancelled
        self.expired = expired
        self.origin: discord.Interaction | None = None
        nonce = secrets.token_hex(4)
        self.confirm = _DecisionButton(
            confirm_label, custom_id(area, "confirm", nonce), discord.ButtonStyle.danger, True
        )
        self.cancel = _DecisionButton(
            replies.CANCEL_BUTTON,
            custom_id(area, "cancel", nonce),
            discord.ButtonStyle.secondary,
            False,
        )
        self.add_item(self.confirm)
        self.add_item(self.cancel)

    def attach(self, interaction: discord.Interaction) -> None:
        """Remember the response this prompt sits on, to disable it on timeout."""
        self.origin = interaction

    async def decide(self, interaction: discord.Interaction, confirmed: bool) -> None:
        """Act (or not), then replace the prompt with the outcome and drop the buttons."""
        outcome = await self.on_confirm(interaction) if confirmed else self.cancelled
        self.stop()
        await interaction.response.edit_message(content=outcome, view=None)

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        """Only the member who asked may answer; anyone else is told so privately."""
        if interaction.user.id == self.owner_id:
            return True
        await interaction.response.send_message(
            replies.only_invoker_can_answer(self.owner_name), ephemeral=True
        )
        return False

    async def on_timeout(self) -> None:
        """Disable both buttons and say nothing happened; a vanished message is no error."""
        for item in self.children:
            if isinstance(item, discord.ui.Button):
                item.disabled = True
        if self.origin is None:
            return
        try:
            await self.origin.edit_original_response(content=self.expired, view=self)
        except discord.HTTPException as exc:
            log.info("could not disable an expired confirmation: %s", exc)

    async def on_error(
        self, interaction: discord.Interaction, error: Exception, item: discord.ui.Item[Any]
    ) -> None:
        """Same replies as commands get."""
        await error_handler.report(interaction, error)


class _DecisionButton(discord.ui.Button[Confirm]):
    """Confirm or cancel its prompt."""

    def __init__(
        self, label: str, custom_id: str, style: discord.ButtonStyle, confirms: bool
    ) -> None:
        super().__init__(label=label, style=style, custom_id=custom_id)
        self.confirms = confirms

    async def callback(self, interaction: discord.Interaction) -> None:
        """One press decides the prompt."""
        assert self.view is not None
        await self.view.decide(interaction, self.confirms)


def link_button(url: str) -> discord.ui.View:
    """A view holding one link button (links open in the browser, no callback)."""
    view = discord.ui.View(timeout=None)
    view.add_item(discord.ui.Button(label=replies.LINK_BUTTON, url=url))
    return view
