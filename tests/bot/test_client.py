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
    }
    assert [option["name"] for option in synced["catalog"]["options"]] == ["browse", "show"]
    for name in ("share", "unshare", "catalog", "waitlist", "import", "imports", "cancel", "retry"):
        assert synced[name]["contexts"] == [GUILD_CONTEXT], name
    assert int(synced["waitlist"]["default_member_permissions"]) == MANAGE_GUILD
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
    ):
        assert synced[name]["default_member_permissions"] is None, name
    [show] = [o for o in synced["catalog"]["options"] if o["name"] == "show"]
    assert show["options"][0]["autocomplete"] is True
    for name, option in (("import", "playlist"), ("cancel", "import"), ("retry", "import")):
        [only] = synced[name]["options"]
        assert (only["name"], only["required"], only["autocomplete"]) == (option, True, True)
