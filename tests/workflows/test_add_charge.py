"""What an add child is charged: the batches left, so the calls it may make."""

from __future__ import annotations

import pytest

from workflows.import_playlist import ADD_BATCHES, BATCH_SIZE, add_batches


@pytest.mark.parametrize(
    ("left", "batches"),
    [
        (1, 1),
        (BATCH_SIZE, 1),
        (BATCH_SIZE + 1, 2),
        (150, 2),
        (ADD_BATCHES * BATCH_SIZE, ADD_BATCHES),
        (ADD_BATCHES * BATCH_SIZE + 1, ADD_BATCHES),
        (10_000, ADD_BATCHES),
    ],
)
def test_the_tracks_left_in_batches_of_100_up_to_one_childs_most(left: int, batches: int) -> None:
    assert add_batches(left) == batches


@pytest.mark.parametrize("left", [0, -5])
def test_nothing_left_still_takes_one_batch_to_find_it_is_done(left: int) -> None:
    """Fewer left than counted (a re-check found some landed) must not stall the loop."""
    assert add_batches(left) == 1


def test_unknown_counts_as_the_most_as_before_it_was_reported() -> None:
    """An answer from before `to_add` existed: a replayed spawn keeps its old input."""
    assert add_batches(None) == ADD_BATCHES
