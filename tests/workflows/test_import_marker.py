"""A target playlist's marker names exactly one (guild, entry): numbers are read whole."""

from __future__ import annotations

from workflows.import_playlist import marker, parse_markers

GUILD = 123456789012345678


def test_a_marker_parses_back_to_exactly_its_entry() -> None:
    for entry in (1, 10, 19, 100, 199, 10**12):
        assert parse_markers(f"Imported with Mixtape. {marker(GUILD, entry)}") == {(GUILD, entry)}


def test_entry_1_never_matches_the_marker_of_entry_10_or_100() -> None:
    for other in (10, 11, 19, 100, 123):
        assert (GUILD, 1) not in parse_markers(marker(GUILD, other))


def test_markers_written_before_the_brackets_are_still_read_exactly() -> None:
    old = f"Imported with Mixtape. mixtape-import:{GUILD}:10"
    assert parse_markers(old) == {(GUILD, 10)}
    assert (GUILD, 1) not in parse_markers(old)
    assert parse_markers(f"mixtape-import:{GUILD}:1 and more words") == {(GUILD, 1)}


def test_a_description_without_a_marker_names_nothing() -> None:
    assert parse_markers("") == set()
    assert parse_markers("mixtape-import:abc:1 mixtape-import::") == set()
