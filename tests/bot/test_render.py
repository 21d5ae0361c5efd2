"""Pure rendering: escaping, truncation, durations, Discord's embed limits, HTML pages."""

from __future__ import annotations

import discord
import pytest

from bot import render
from bot.views import custom_id, parse_custom_id
from tests.bot.support import clickable_links, embed_text
from workflows import import_render, share_render


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("@everyone **bold** <@123>", "@\u200beveryone \\*\\*bold\\*\\* <\u200b@123>"),
        ("@here <@&42> <#7> </share:1>", "@\u200bhere <\u200b@&42> <\u200b#7> <\u200b/share:1>"),
        ("[click](https://evil.example)", "\\[click](https:\u200b//evil.example)"),
        ("see https://evil.example/a_b", "see https:\u200b//evil.example/a\\_b"),
        ("<steam://run/1> <mailto:/x>", "<steam:\u200b//run/1> <mailto:\u200b/x>"),
        ("multi\nline\ttext", "multi line text"),
        ("plain", "plain"),
    ],
)
def test_clean_escapes_markdown_and_mentions(raw: str, shown: str) -> None:
    assert render.clean(raw, 256) == shown


def test_urls_in_user_text_never_become_links_in_the_workers_embeds() -> None:
    lure = "Free Nitro https://evil.example/claim and <https://evil.example>"
    ours = "https://open.spotify.com/playlist/37i9dQZF1DXcBWIGoYBM5M"
    progress = import_render.Progress(
        name=lure, total=2, added=1, already_present=0, not_found=1, failed=0, per_minute=1.0
    )

    embeds = [
        share_render.summary(
            name=lure, owner=lure, url=ours, track_count=1, duration_ms=1, skipped={}
        ),
        share_render.reading(lure, 1, 2),
        import_render.running(progress),
        import_render.finished(progress, url=ours, not_imported=[(lure, lure)]),
    ]

    text = embed_text(embed.to_dict() for embed in embeds)
    assert "https:\u200b//evil.example/claim" in text  # shown, as text
    links = clickable_links(text)
    assert links and all(link.startswith(ours) for link in links)  # only the one we made


def test_clean_block_escapes_line_start_markup() -> None:
    assert render.clean_block("# Big\n> quote\n- item\nok", 100) == (
        "\\# Big\n\\> quote\n\\- item\nok"
    )


def test_truncate_marks_the_cut_and_never_ends_mid_escape() -> None:
    assert render.truncate("abcdef", 6) == "abcdef"
    assert render.truncate("abcdefg", 6) == "abcde…"
    cut = render.truncate("abcd\\*xyz", 6)
    assert cut == "abcd…" and len(cut) <= 6


def test_durations() -> None:
    assert render.duration(0) == "0:00:00"
    assert render.duration(3_723_000) == "1:02:03"
    assert render.track_length(61_000) == "1:01"
    assert render.track_length(3_600_000) == "1:00:00"


def test_fit_holds_every_limit() -> None:
    embed = discord.Embed(title="t" * 300, description="d" * 5000)
    for _ in range(30):
        embed.add_field(name="n" * 300, value="v" * 2000)
    embed.set_footer(text="f" * 3000)

    fitted = render.fit(embed)

    assert len(fitted.title or "") == 256 and len(fitted.footer.text or "") == 2048
    assert len(fitted.fields) <= 25
    assert all(len(f.name or "") <= 256 and len(f.value or "") <= 1024 for f in fitted.fields)
    assert len(fitted) <= 6000


def test_oauth_pages_escape_everything() -> None:
    page = render.page_linked("<b>Eve</b> & co").html()

    assert "Linked as &lt;b&gt;Eve&lt;/b&gt; &amp; co. You can close this tab." in page
    assert "<b>" not in page


def test_custom_ids_follow_the_scheme() -> None:
    value = custom_id("catalog", "next", "ab12cd34")

    assert value == "mixtape:catalog:next:ab12cd34"
    assert parse_custom_id(value) == ("catalog", "next", "ab12cd34")
    assert parse_custom_id("vote:up") is None
    with pytest.raises(ValueError, match="100"):
        custom_id("x" * 90, "next", "nonce")
