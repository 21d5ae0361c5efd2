"""How a re-read's message counts the followers' copies of a change as they are updated."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fakes.discord_forms import check_message_body
from voice import share_progress

COUNT = st.integers(0, 10**7)


@pytest.mark.parametrize(
    ("followers", "updated", "failed", "final", "said"),
    [
        (12, 0, 0, False, "updating 12 followers' copies"),
        (1, 0, 0, False, "updating 1 follower's copy"),
        (12, 3, 0, False, "3 of 12 followers' copies updated"),
        (12, 12, 0, False, "12 followers' copies updated"),
        (1, 1, 0, False, "1 follower's copy updated"),
        (1_200, 1_200, 0, True, "1,200 followers' copies updated"),
        (12, 3, 1, False, "3 of 12 followers' copies updated, 1 could not be updated"),
        (12, 11, 1, False, "11 of 12 followers' copies updated, 1 could not be updated"),
        (12, 0, 2, False, "0 of 12 followers' copies updated, 2 could not be updated"),
        (2, 0, 2, False, "2 followers' copies could not be updated"),
        (1, 0, 1, True, "1 follower's copy could not be updated"),
        # The message stops changing: the copies not done yet are on their way.
        (12, 9, 0, True, "9 of 12 followers' copies updated, 3 still on their way"),
        (
            12,
            10,
            1,
            True,
            "10 of 12 followers' copies updated, 1 could not be updated, 1 still on its way",
        ),
        (12, 0, 0, True, "0 of 12 followers' copies updated, 12 still on their way"),
    ],
)
def test_the_followers_copies_are_counted_without_naming_anyone(
    followers: int, updated: int, failed: int, final: bool, said: str
) -> None:
    assert share_progress.served(followers, updated, failed, final=final) == said


def test_a_change_says_what_changed_then_how_far_the_copies_got() -> None:
    assert share_progress.change(3, 1, 0, 12) == "+3 \u22121 songs; updating 12 followers' copies"
    assert (
        share_progress.change(3, 1, 0, 12, updated=3)
        == "+3 \u22121 songs; 3 of 12 followers' copies updated"
    )
    assert (
        share_progress.change(3, 1, 2, 12, updated=12)
        == "+3 \u22121 songs, 2 moved; 12 followers' copies updated"
    )
    # Nobody to update (no follower, or the fan-out not asked): the change alone.
    assert share_progress.change(0, 1, 0, None) == "+0 \u22121 song"
    assert share_progress.change(3, 0, 0, 0, updated=0) == "+3 \u22120 songs"


def test_the_summary_carries_the_count_in_its_updated_field() -> None:
    embed = share_progress.summary(
        name="Late Night Drive",
        sharer_id=2,
        owner="Ada",
        url="https://open.spotify.com/playlist/x",
        track_count=22,
        duration_ms=60_000,
        skipped={},
        at=datetime(2026, 1, 1, tzinfo=UTC),
        updated=share_progress.change(3, 1, 0, 12, updated=12),
    )
    [field] = [f for f in embed.fields if f.name == "Updated"]
    assert field.value == "+3 \u22121 songs; 12 followers' copies updated"


@settings(max_examples=200, deadline=None)
@given(COUNT, COUNT, COUNT, st.integers(1, 10**7), COUNT, COUNT, st.booleans())
def test_every_count_reads_and_fits_in_the_summary(
    added: int, removed: int, moved: int, followers: int, updated: int, failed: int, final: bool
) -> None:
    updated = min(updated, followers)
    failed = min(failed, followers - updated)
    text = share_progress.change(
        added, removed, moved, followers, updated=updated, failed=failed, final=final
    )
    assert "followers' copies" in text or "follower's copy" in text
    assert ("still on" in text) == (final and updated + failed < followers)
    assert ("could not be updated" in text) == (failed > 0)
    embed = share_progress.summary(
        name="x" * 300,
        sharer_id=1,
        owner="Ada",
        url="",
        track_count=added,
        duration_ms=0,
        skipped={},
        at=datetime(2026, 1, 1, tzinfo=UTC),
        updated=text,
    )
    check_message_body({"embeds": [embed.to_dict()]})
