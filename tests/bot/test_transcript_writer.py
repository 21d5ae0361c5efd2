"""The transcript writer: every visible version of a message, oldest first, in Discord's look.

Built on a bare `DiscordStore` (no bot, no engine): the exporter must work offline from the
payloads the fake holds, name mentioned members, keep every state a progress message went
through and skip "is thinking…".
"""

from __future__ import annotations

from pathlib import Path

from fakes.discord_messages import create_message, edit_message
from fakes.discord_store import DiscordStore
from fakes.transcript import channel_versions, write_transcript

ROUTE = "POST /channels/{channel_id}/messages"
BEA = 10**17 + 2


def _progress(title: str, added: int) -> dict[str, object]:
    return {
        "title": title,
        "description": f"started by <@{BEA}>",
        "color": 0x1DB954,
        "fields": [{"name": "Added", "value": f"{added}/300", "inline": True}],
        "footer": {"text": "Mixtape"},
    }


async def test_each_visible_version_is_one_entry_in_order(tmp_path: Path) -> None:
    store = DiscordStore()
    channel = store.channel_id
    thinking = create_message(store, channel, {}, [], ROUTE, loading=True)
    stored = store.stored_message(channel, int(thinking["id"]))
    for title, added in [("Importing", 0), ("Importing", 0), ("Imported", 300)]:
        embed = _progress(f"{title} Late Night Drive", added)
        edit_message(store, stored, {"embeds": [embed]}, [], ROUTE)
    button = {"type": 2, "style": 1, "label": "Next page", "custom_id": "page:2"}
    body = {
        "content": "Catalog <https://open.spotify.com/x>",
        "components": [{"type": 1, "components": [button]}],
    }
    create_message(store, channel, body, [], ROUTE)

    titles = [
        v["embeds"][0]["title"] if v["embeds"] else v["content"]
        for v in channel_versions(store, channel)
    ]
    # "is thinking…" and the edit that changed nothing are not entries.
    assert titles == [
        "Importing Late Night Drive",
        "Imported Late Night Drive",
        "Catalog https://open.spotify.com/x",  # a no-preview link shows bare, as in Discord
    ]

    path = await write_transcript(store, channel, {BEA: "Bea"}, tmp_path / "t.html")
    html = path.read_text(encoding="utf-8")
    assert html.index("Importing Late Night Drive") < html.index("Imported Late Night Drive")
    assert "@Bea" in html and f"&lt;@{BEA}&gt;" not in html
    # Discord marks "(edited)" beside content, so an embed-only edit shows no marker.
    assert "Next page" in html and "300/300" in html and "0/300" in html
    assert "&lt;https://" not in html
