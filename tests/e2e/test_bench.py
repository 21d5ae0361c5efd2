"""The benchmark's smoke run (`python -m bench --quick`) on the suite's engine: every design
and scenario runs, the outputs are written, and what it measures is real (the plain script's
restart after a kill shows up as duplicates; Mixtape has none; the scale-out runs three
workers and loses one; following checks unchanged sources with one call each and brings
every follower's copy level with a changed source). No timing is asserted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from devtools.stack import REPO_ROOT

pytestmark = pytest.mark.engine


def test_quick_bench_measures_every_design(stack_env: dict[str, str], tmp_path: Path) -> None:
    env = {**os.environ, **stack_env}
    env.pop("HATCHET_CLIENT_NAMESPACE", None)  # the bench gives each design its own
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--out", str(tmp_path)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]

    runs = json.loads((tmp_path / "latest.json").read_text())["runs"]
    assert {r["design"] for r in runs} == {"mixtape", "per-track", "plain script"}
    assert (tmp_path / "calls.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for run in (r for r in runs if r["design"] == "mixtape"):
        assert run["error"] is None, run["scenario"]
        assert (run["duplicates"], run["missing"], run["calls_in_retry_after"]) == (0, 0, 0)
        assert run["in_order"], run["scenario"]
        if run["scenario"] != "search, 1st import":  # one resolve task per song searched
            assert 0 < run["task_runs"] < run["tracks"] * run["members"], run["scenario"]
    by = {(r["design"], r["scenario"]): r for r in runs}
    # one task run per track, plus its parent and the create: what the baseline is about
    per_track = by[("per-track", "import")]
    assert per_track["task_runs"] == per_track["tracks"] + 2
    assert per_track["calls_by_route"]["POST /v1/playlists/{id}/items"] == per_track["tracks"]
    # the plain script started over after the kill and added the first batch again
    killed = by[("plain script", "worker SIGKILL")]
    assert killed["restarts"] == 1 and killed["duplicates"] > 0
    # the chaos fired at a third of the tracks for every design
    assert all(
        r["chaos_at"] is not None for r in runs if r["scenario"] in ("worker SIGKILL", "429 burst")
    )
    burst = by[("mixtape", "429 burst")]
    assert any(status == 429 for _, _, status in burst["timeline"])  # and it was waited out
    # the match cache: the second import of the same songs searches nothing
    assert by[("mixtape", "search, 1st import")]["calls_by_route"]["GET /v1/search"] == 20
    assert (
        "GET /v1/search"
        not in by[("mixtape", "search, 2nd import (match cache)")]["calls_by_route"]
    )
    assert "10 members at once, 3x20 / mixtape: members finished" in done.stdout
    # scale-out: many members on one worker, then on three of which one is SIGKILLed
    one = by[("mixtape", "scale-out, 1 worker")]
    killed_one = by[("mixtape", "scale-out, 3 workers, 1 SIGKILLed")]
    assert (one["workers"], killed_one["workers"]) == (1, 3)
    assert killed_one["chaos_at"] is not None  # one of the three died mid-run
    for run in (one, killed_one, by[("plain script", "scale-out, 1 worker")]):
        assert len(run["finished"]) == run["members"] == 3
        assert run["extra_playlists"] == 0 and run["rate_limited"] == 0
    assert "scale-out, 3 workers, 1 SIGKILLed, 3x20 / mixtape: members finished" in done.stdout
    # the physical floor: the fewest calls (a create, one add per 100 tracks) x latency
    assert one["floor_s"] == pytest.approx(2 * 0.03)
    assert by[("mixtape", "worker SIGKILL")]["floor_s"] is None
    # following: one scheduled check; an unchanged source costs one call, and a change
    # reaches every follower's copy once (the copies are checked against the source)
    checked = by[("mixtape", "follow: check unchanged entries")]
    assert checked["calls_by_route"] == {"GET /v1/playlists/{id}": checked["members"]}
    assert len(checked["finished"]) == checked["members"] == 10
    updated = by[("mixtape", "follow: update followers of a changed entry")]
    assert len(updated["finished"]) == updated["members"] == 3
    assert updated["calls_by_route"]["POST /v1/playlists/{id}/items"] == 3
    assert updated["extra_playlists"] == 0
    # its floor: the check, the re-read (metadata, 3 pages of 120 songs), an add per follower
    assert updated["floor_s"] == pytest.approx((1 + 1 + 3 + 3) * 0.03)
    assert "an unchanged source costs one call: 10 calls for 10 entries" in done.stdout
    # Discord answering 429 to every progress edit: measured, and the import still complete
    assert by[("mixtape", "Discord 429s on edits")]["chaos_at"] is not None
    assert by[("mixtape", "Discord quiet (control)")]["chaos_at"] is None  # its pair
    assert "Discord answering 429 to every edit" in done.stdout
