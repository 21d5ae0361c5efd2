"""Pure wording: escaping, truncation, durations, plurals, lists, Discord's limits, pages."""

from __future__ import annotations

from datetime import UTC, datetime

import discord
import pytest

from bot.views import custom_id, parse_custom_id
from tests.bot.support import clickable_links, embed_text
from voice import embeds, import_progress, pages, share_progress, text


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
    assert text.clean(raw, 256) == shown


def test_urls_in_user_text_never_become_links_in_the_workers_embeds() -> None:
    lure = "Free Nitro https://evil.example/claim and <https://evil.example>"
    ours = "https://open.spotify.com/playlist/37i9dQZF1DXcBWIGoYBM5M"
    when = datetime(2026, 1, 1, tzinfo=UTC)
    view = import_progress.View(
        import_id=1, owner_id=2, name=lure, total=2, at=when, added=1, not_found=1, url=ours
    )
    missing = import_progress.Missing(0, lure, (lure,), lure)

    embeds_ = [
        share_progress.summary(
            name=lure,
            sharer_id=2,
            owner=lure,
            url=ours,
            track_count=1,
            duration_ms=1,
            skipped={},
            at=when,
        ),
        share_progress.reading(lure, 2, 1, 2, when),
        import_progress.running(view),
        import_progress.finished(view, import_progress.Outcome.COMPLETED, [missing]).embed,
    ]

    shown = embed_text(embed.to_dict() for embed in embeds_)
    assert "https:\u200b//evil.example/claim" in shown  # shown, as text
    links = clickable_links(shown)
    assert links and all(link.startswith(ours) for link in links)  # only the one we made


def test_clean_block_escapes_line_start_markup() -> None:
    assert text.clean_block("# Big\n> quote\n- item\nok", 100) == (
        "\\# Big\n\\> quote\n\\- item\nok"
    )


def test_truncate_marks_the_cut_and_never_ends_mid_escape() -> None:
    assert text.truncate("abcdef", 6) == "abcdef"
    assert text.truncate("abcdefg", 6) == "abcde…"
    cut = text.truncate("abcd\\*xyz", 6)
    assert cut == "abcd…" and len(cut) <= 6


def test_durations() -> None:
    assert text.duration(0) == "0:00:00"
    assert text.duration(3_723_000) == "1:02:03"
    assert text.track_length(61_000) == "1:01"
    assert text.track_length(3_600_000) == "1:00:00"


def test_fit_holds_every_limit() -> None:
    embed = discord.Embed(title="t" * 300, description="d" * 5000)
    for _ in range(30):
        embed.add_field(name="n" * 300, value="v" * 2000)
    embed.set_footer(text="f" * 3000)

    fitted = embeds.fit(embed)

    assert len(fitted.title or "") == 256 and len(fitted.footer.text or "") == 2048
    assert len(fitted.fields) <= 25
    assert all(len(f.name or "") <= 256 and len(f.value or "") <= 1024 for f in fitted.fields)
    assert len(fitted) <= 6000


def test_oauth_pages_escape_everything() -> None:
    page = pages.page_spotify_error("<b>Eve</b> & co").html()

    assert "Spotify reported an error: &lt;b&gt;Eve&lt;/b&gt; &amp; co." in page
    assert "<b>" not in page


def test_custom_ids_follow_the_scheme() -> None:
    value = custom_id("catalog", "next", "ab12cd34")

    assert value == "mixtape:catalog:next:ab12cd34"
    assert parse_custom_id(value) == ("catalog", "next", "ab12cd34")
    assert parse_custom_id("vote:up") is None
    with pytest.raises(ValueError, match="100"):
        custom_id("x" * 90, "next", "nonce")
