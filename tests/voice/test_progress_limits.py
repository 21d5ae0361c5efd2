"""The progress messages stay inside Discord's limits whatever text they carry.

Each embed goes through the fake Discord's own check (`fakes.discord_forms`), so an
embed that would be answered 400 50035 fails here, with the field Discord would name.
"""

from __future__ import annotations

from datetime import UTC, datetime

import discord
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fakes.discord_forms import check_message_body
from voice import import_progress, share_progress
from voice.import_progress import Missing, Outcome, Pace, View

# Any text, and text made of what escaping lengthens (markdown, mentions) or blanks out.
TEXT = st.text(max_size=3000) | st.text(alphabet="*_\\`~|<@#>[]()\n \u200b\x1c", max_size=3000)
COUNT = st.integers(0, 10**7)
WHEN = datetime(2026, 1, 1, tzinfo=UTC)
PROPERTY = settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
VIEW = st.builds(
    View,
    import_id=COUNT,
    owner_id=COUNT,
    name=TEXT,
    total=COUNT,
    at=st.just(WHEN),
    added=COUNT,
    already_present=COUNT,
    not_found=COUNT,
    failed=COUNT,
    url=st.none() | TEXT,
    country=st.none() | TEXT,
    unplayable=st.lists(TEXT, max_size=30).map(tuple),
    notes=st.lists(TEXT, max_size=4).map(tuple),
    share_skips=st.dictionaries(TEXT, COUNT, max_size=5),
)
MISSING = st.builds(
    Missing, position=COUNT, title=TEXT, artists=st.lists(TEXT, max_size=3).map(tuple), reason=TEXT
)


def accepted(embed: discord.Embed) -> None:
    """Raises the fake's `ApiError` (with Discord's error tree) if Discord would refuse it."""
    check_message_body({"embeds": [embed.to_dict()]})


@PROPERTY
@given(
    VIEW,
    st.lists(MISSING, max_size=60),
    st.sampled_from(Outcome),
    st.none() | TEXT,
    st.none() | TEXT,
    st.none() | st.builds(Pace, settled=COUNT, seconds=st.floats(0, 1e6)),
)
def test_import_progress_fits(
    view: View,
    not_imported: list[Missing],
    outcome: Outcome,
    error: str | None,
    reason: str | None,
    pace: Pace | None,
) -> None:
    accepted(import_progress.queued(view))
    accepted(import_progress.not_started(view))
    accepted(import_progress.running(view, pace))
    accepted(import_progress.paused(view, WHEN, reason))
    summary = import_progress.finished(
        view, outcome, not_imported, error=error, cancelled_by=view.owner_id
    )
    accepted(summary.embed)
    check_message_body({"content": import_progress.finished_notice(view, outcome, 3)})
    check_message_body({"content": import_progress.paused_notice(view, WHEN, reason)})


def test_a_blank_note_adds_no_empty_field() -> None:
    """Discord refuses an empty field value (`embeds.0.fields.4.value` BASE_TYPE_REQUIRED)."""
    view = View(import_id=1, owner_id=2, name="p", total=1, at=WHEN, notes=(" ",))
    embed = import_progress.running(view)
    accepted(embed)
    assert [field.name for field in embed.fields] == [
        "Added",
        "Already there",
        "Not found",
        "Failed",
    ]


@PROPERTY
@given(TEXT, COUNT, COUNT, COUNT, TEXT, TEXT, st.dictionaries(TEXT, COUNT, max_size=20))
def test_share_progress_fits(
    name: str,
    sharer: int,
    done: int,
    total: int,
    owner: str,
    url: str,
    skipped: dict[str, int],
) -> None:
    accepted(share_progress.started(name, sharer, WHEN))
    accepted(share_progress.not_started(name, sharer, WHEN))
    accepted(share_progress.reading(name, sharer, done, total, WHEN))
    accepted(share_progress.waiting(name, sharer, 30.0, WHEN))
    accepted(share_progress.failed(name, sharer, owner, WHEN))
    accepted(
        share_progress.summary(
            name=name,
            sharer_id=sharer,
            owner=owner,
            url=url,
            track_count=total,
            duration_ms=done,
            skipped=skipped,
            at=WHEN,
        )
    )
