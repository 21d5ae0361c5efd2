"""Every state of an import's progress message: whose, which, when; true paces only; plain
pauses; complete reports that never cut a line; the owner pinged alone."""

from __future__ import annotations

from datetime import UTC, datetime

from voice import import_progress, share_progress, text
from voice.import_progress import Missing, Outcome, Pace, View

WHEN = datetime(2026, 1, 1, 12, tzinfo=UTC)
VIEW = View(
    import_id=42, owner_id=7, name="Late Night Drive", total=120, at=WHEN, added=60, not_found=3
)


def _all_states(view: View) -> list[object]:
    return [
        import_progress.queued(view),
        import_progress.running(view, Pace(30, 60.0)),
        import_progress.paused(view, WHEN, "QUOTA_EXCEEDED"),
        *(import_progress.finished(view, outcome).embed for outcome in Outcome),
        import_progress.not_started(view),
    ]


def test_every_state_names_owner_number_and_time() -> None:
    for embed in _all_states(VIEW):
        assert "<@7>" in (embed.description or ""), embed.title  # type: ignore[attr-defined]
        assert (embed.footer.text or "").startswith("Import #42 · ")  # type: ignore[attr-defined]
        assert embed.timestamp == WHEN  # type: ignore[attr-defined]


def test_a_pace_is_shown_only_once_measured() -> None:
    assert import_progress.pace(VIEW, None) is None
    assert import_progress.pace(VIEW, Pace(17, 1.0)) is None  # a restart's first second
    assert import_progress.pace(VIEW, Pace(0, 600.0)) is None  # nothing moved: no "0/min"
    assert import_progress.pace(VIEW, Pace(40, 60.0)) == "40 tracks/min · about 2 min left"
    assert import_progress.pace(VIEW, Pace(1000, 60.0)) == (
        "1,000 tracks/min · under a minute left"
    )  # never "about 0 min left"


def test_a_pause_reads_in_plain_words_with_its_end() -> None:
    embed = import_progress.paused(VIEW, WHEN, "QUOTA_EXCEEDED")
    assert "QUOTA_EXCEEDED" not in (embed.description or "")
    assert "quota" in (embed.description or "") and "<t:" in (embed.description or "")


def test_fifteen_not_found_are_all_listed() -> None:
    missing = [Missing(i, f"No Such Song {i}", ("Nobody",), "not found") for i in range(15)]
    summary = import_progress.finished(VIEW, Outcome.COMPLETED, missing)
    for i in range(15):
        assert f"No Such Song {i} —" in (summary.embed.description or "")
    assert summary.full_list is None


def test_a_list_too_long_says_how_many_more_and_attaches_all() -> None:
    missing = [
        Missing(i, f"A rather long song title number {i} (Extended Remix)", ("Artist",), "x")
        for i in range(200)
    ]
    summary = import_progress.finished(VIEW, Outcome.COMPLETED, missing)
    description = summary.embed.description or ""
    assert "more (attached)" in description and "…" not in description
    assert summary.full_list is not None
    assert all(f"number {i} (Extended Remix)" in summary.full_list for i in range(200))


def test_listed_keeps_whole_lines() -> None:
    shown, held = text.listed([f"line {i}" for i in range(100)], 60)
    assert shown.endswith("more") and held == shown.count("line ")
    assert all(line.startswith(("line ", "and ")) for line in shown.splitlines())


def test_skips_and_counts_are_plural_where_they_should_be() -> None:
    assert share_progress.skip_counts({"unavailable": 2, "local file": 1}) == (
        "1 local file, 2 songs no longer on Spotify"
    )
    assert text.plural(1, "track") == "1 track" and text.plural(2, "track") == "2 tracks"


def test_the_owner_alone_is_pinged() -> None:
    mentions = import_progress.owner_mentions(7).to_dict()
    assert mentions["users"] == [7] and mentions["parse"] == []
    notice = import_progress.finished_notice(VIEW, Outcome.COMPLETED, 3)
    assert notice.startswith("<@7> ") and "3 not imported" in notice
