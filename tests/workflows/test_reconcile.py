"""What reconcile counts as already in the target: per song, never beyond the source."""

from __future__ import annotations

from collections import Counter

from workflows.import_playlist import already_there


def _wanted(uris: str, added: str = "") -> list[tuple[int, str, bool]]:
    """Source positions 0.. with one-letter songs; `added` marks what we added already."""
    return [(i, u, i < len(added) and added[i] == "+") for i, u in enumerate(uris)]


def _after(present: str, wanted: list[tuple[int, str, bool]]) -> Counter[str]:
    """The target's songs once what is not there has been added."""
    there = set(already_there(list(present), wanted))
    to_add = [u for pos, u, added in wanted if not added and pos not in there]
    return Counter(present) + Counter(to_add)


def test_a_fresh_target_gets_everything() -> None:
    assert already_there([], _wanted("abc")) == []


def test_a_full_copy_gets_nothing_in_any_order() -> None:
    assert already_there(list("cab"), _wanted("abc")) == [0, 1, 2]


def test_a_copy_the_member_trimmed_gets_only_what_is_missing() -> None:
    wanted = _wanted("abcdefghij")
    present = "abcdfghij"  # the member removed "e"
    assert set(already_there(list(present), wanted)) == set(range(10)) - {4}
    assert _after(present, wanted) == Counter("abcdefghij")


def test_songs_the_source_repeats_are_counted_per_copy() -> None:
    wanted = _wanted("abab")
    assert already_there(list("ab"), wanted) == [0, 1]  # the first copies; the rest follow
    assert _after("ab", wanted) == Counter("abab")
    assert already_there(list("aaab"), wanted) == [0, 1, 2]  # never beyond the source's two
    assert _after("aaab", wanted) == Counter("aaabb")


def test_the_members_own_songs_do_not_count() -> None:
    wanted = _wanted("abc")
    assert already_there(list("xyzb"), wanted) == [1]
    assert _after("xyzb", wanted) == Counter("xyzabc")


def test_what_we_added_is_not_counted_twice() -> None:
    wanted = _wanted("aab", added="+")  # our first "a" landed before a crash
    assert already_there(list("a"), wanted) == []  # the second "a" is still to add
    assert already_there(list("aa"), wanted) == [1]  # its batch landed, unrecorded
