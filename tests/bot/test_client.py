"""The bot as Discord sees it after start-up: which commands exist, and who may see them."""

from __future__ import annotations

import pytest

from bot.client import MixtapeBot
from fakes.discord_api import FakeDiscord
from fakes.interactions import MANAGE_GUILD

pytestmark = pytest.mark.engine

GUILD_CONTEXT = 0


async def test_commands_are_synced_as_designed(bot: MixtapeBot, fake_discord: FakeDiscord) -> None:
    synced = {command["name"]: command for command in fake_discord.commands()}

    assert set(synced) == {
        "about",
        "link",
        "unlink",
        "waitlist",
        "share",
        "unshare",
        "catalog",
        "import",
        "imports",
        "cancel",
        "retry",
        "follow",
        "unfollow",
        "following",
    }
    assert [option["name"] for option in synced["catalog"]["options"]] == ["browse", "show"]
    guild_only = ("share", "unshare", "catalog", "waitlist", "import", "imports", "cancel", "retry")
    for name in (*guild_only, "follow", "unfollow"):
        assert synced[name]["contexts"] == [GUILD_CONTEXT], name
    for name in ("waitlist", "following"):
        assert int(synced[name]["default_member_permissions"]) == MANAGE_GUILD, name
    assert synced["following"]["contexts"] == [GUILD_CONTEXT]
    assert [option["name"] for option in synced["following"]["options"]] == ["pause", "resume"]
    for name in (
        "link",
        "unlink",
        "share",
        "unshare",
        "catalog",
        "import",
        "imports",
        "cancel",
        "retry",
        "follow",
        "unfollow",
    ):
        assert synced[name]["default_member_permissions"] is None, name
    [show] = [o for o in synced["catalog"]["options"] if o["name"] == "show"]
    assert show["options"][0]["autocomplete"] is True
    for name, option in (("cancel", "import"), ("retry", "import")):
        [only] = synced[name]["options"]
        assert (only["name"], only["required"], only["autocomplete"]) == (option, True, True)
    playlist, follow = synced["import"]["options"]
    assert (playlist["name"], playlist["required"], playlist["autocomplete"]) == (
        "playlist",
        True,
        True,
    )
    assert (follow["name"], follow.get("required", False), follow["type"]) == ("follow", False, 5)
    playlist, remove_gone = synced["follow"]["options"]
    [only] = synced["unfollow"]["options"]
    for choice in (playlist, only):
        assert (choice["name"], choice["required"], choice["autocomplete"]) == (
            "playlist",
            True,
            True,
        )
    assert (remove_gone["name"], remove_gone.get("required", False), remove_gone["type"]) == (
        "remove_gone",
        False,
        5,
    )
