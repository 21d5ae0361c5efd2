"""The worker's progress embeds stay inside Discord's limits whatever text they carry.

Each embed goes through the fake Discord's own check (`fakes.discord_forms`), so an
embed that would be answered 400 50035 fails here, with the field Discord would name.
"""

from __future__ import annotations

from datetime import UTC, datetime

import discord
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fakes.discord_forms import check_message_body
from workflows import import_render, share_render

# Any text, and text made of what escaping lengthens (markdown, mentions) or blanks out.
TEXT = st.text(max_size=3000) | st.text(alphabet="*_\\`~|<@#>[]()\n \u200b\x1c", max_size=3000)
COUNT = st.integers(0, 10**7)
PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
PROGRESS = st.builds(
    import_render.Progress,
    name=TEXT,
    total=COUNT,
    added=COUNT,
    already_present=COUNT,
    not_found=COUNT,
    failed=COUNT,
    per_minute=st.floats(0, 1e6),
    country=st.none() | TEXT,
    unplayable=st.lists(TEXT, max_size=30).map(tuple),
    notes=st.lists(TEXT, max_size=4).map(tuple),
)


def accepted(embed: discord.Embed) -> None:
    """Raises the fake's `ApiError` (with Discord's error tree) if Discord would refuse it."""
    check_message_body({"embeds": [embed.to_dict()]})


@PROPERTY
@given(
    PROGRESS,
    st.none() | TEXT,
    st.lists(st.tuples(TEXT, TEXT), max_size=30),
    st.booleans(),
    st.none() | TEXT,
)
def test_import_progress_fits(
    progress: import_render.Progress,
    url: str | None,
    not_imported: list[tuple[str, str]],
    cancelled: bool,
    error: str | None,
) -> None:
    accepted(import_render.running(progress))
    accepted(import_render.paused(progress, datetime(2026, 1, 1, tzinfo=UTC), error))
    accepted(
        import_render.finished(
            progress, url=url, not_imported=not_imported, cancelled=cancelled, error=error
        )
    )


def test_a_blank_note_adds_no_empty_field() -> None:
    """Discord refuses an empty field value (`embeds.0.fields.4.value` BASE_TYPE_REQUIRED)."""
    progress = import_render.Progress("p", 1, 0, 0, 0, 0, 0.0, notes=(" ",))
    embed = import_render.running(progress)
    accepted(embed)
    assert [field.name for field in embed.fields] == [
        "Added",
        "Already there",
        "Not found",
        "Failed",
    ]


@PROPERTY
@given(TEXT, COUNT, COUNT, TEXT, TEXT, st.dictionaries(TEXT, COUNT, max_size=20))
def test_share_progress_fits(
    name: str, done: int, total: int, owner: str, url: str, skipped: dict[str, int]
) -> None:
    accepted(share_render.reading(name, done, total))
    accepted(share_render.waiting(name, 30.0))
    accepted(share_render.failed(name, owner))
    accepted(
        share_render.summary(
            name=name,
            owner=owner,
            url=url,
            track_count=total,
            duration_ms=done,
            skipped=skipped,
        )
    )
