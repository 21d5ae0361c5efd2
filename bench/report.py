"""The table (stdout and bench/README.md), the JSON file and the chart."""

from __future__ import annotations

import json
import re
import statistics
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.scenarios import DISCORD_429, DISCORD_QUIET, Outcome

README_START, README_END = "<!-- results:start -->", "<!-- results:end -->"
COLUMNS = (
    "scenario",
    "tracks",
    "design",
    "wall s",
    "x slower",
    "tracks/s",
    "floor s",
    "x floor",
    "spread s",
    "calls",
    "writes/track",
    "in Retry-After",
    "429 (limit)",
    "dups",
    "missing",
    "extra calls (kill)",
    "task runs",
    "peak MiB",
)


def _baseline(outcomes: list[Outcome], o: Outcome) -> Outcome | None:
    """The same design and size without chaos: what the chaos run is compared with."""
    return next(
        (
            b
            for b in outcomes
            if b.design == o.design
            and b.tracks == o.tracks
            and b.scenario == "import"
            and b.members == o.members
        ),
        None,
    )


def _answered(o: Outcome) -> int:
    """Calls not answered 429: a rolling limit's 429s differ from run to run."""
    return sum(1 for _, _, status in o.timeline if status != 429)


def rows(outcomes: list[Outcome]) -> list[list[str]]:
    out = []
    for o in outcomes:
        mixtape = next(
            (
                m
                for m in outcomes
                if m.design == "mixtape" and m.scenario == o.scenario and m.tracks == o.tracks
            ),
            None,
        )
        base = _baseline(outcomes, o)
        extra = (
            ""
            if o.scenario != "worker SIGKILL" or base is None
            else str(_answered(o) - _answered(base))
        )
        runs = "" if o.task_runs is None else f"{o.task_runs} ({o.task_attempts})"
        ratio = f"{o.wall_s / mixtape.wall_s:.1f}" if mixtape and mixtape.wall_s else ""
        notes = []
        if o.error:
            notes.append(f"FAILED: {o.error}")
        if o.restarts:
            notes.append(f"{o.restarts} restart(s)")
        if not o.in_order and not o.error:
            notes.append("out of order")
        if o.extra_playlists:
            notes.append(f"{o.extra_playlists} extra playlist(s)")
        if o.scenario in ("429 burst", "worker SIGKILL") and o.chaos_at is None:
            notes.append("finished before the event: a single add")
        if o.scenario.endswith("SIGKILLed") and o.chaos_at is None:
            notes.append("finished before the kill")
        scenario = o.scenario + (f" ({'; '.join(notes)})" if notes else "")
        tracks = f"{o.members}x{o.tracks:,}" if o.members > 1 else f"{o.tracks:,}"
        per_s = f"{o.throughput:.0f}"
        per_write = f"{o.write_calls / (o.tracks * o.members):.3f}" if o.tracks else ""
        if o.follow == "unchanged":  # entries checked: no song is imported
            tracks, per_s, per_write = f"{o.members} entries", "", ""
        elif o.follow == "changed":  # followers x songs the source gained
            tracks = f"{o.members}x+{o.tracks:,}"
        out.append(
            [
                scenario,
                tracks,
                o.design,
                f"{o.wall_s:.1f}",
                ratio,
                per_s,
                "" if o.floor_s is None else f"{o.floor_s:.2f}",
                f"{o.wall_s / o.floor_s:.1f}" if o.floor_s else "",
                "" if o.spread_s is None else f"{o.spread_s:.1f}",
                str(o.total_calls),
                per_write,
                str(o.calls_in_retry_after),
                str(o.rate_limited),
                str(o.duplicates),
                str(o.missing),
                extra,
                runs,
                f"{o.peak_worker_mib:.0f}",
            ]
        )
    return out


def markdown(outcomes: list[Outcome]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(r) + " |" for r in rows(outcomes)]
    return "\n".join(lines)


def text(outcomes: list[Outcome]) -> str:
    table = [list(COLUMNS), *rows(outcomes)]
    widths = [max(len(r[i]) for r in table) for i in range(len(COLUMNS))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)) for r in table
    )


def routes(outcomes: list[Outcome]) -> str:
    """Calls by route, one line per run."""
    return "\n".join(
        f"{o.scenario} {o.tracks:,} / {o.design}: "
        + ", ".join(f"{route} {n}" for route, n in sorted(o.calls_by_route.items()))
        for o in outcomes
    )


def _find(outcomes: list[Outcome], design: str, scenario: str, tracks: int) -> Outcome | None:
    return next(
        (o for o in outcomes if (o.design, o.scenario, o.tracks) == (design, scenario, tracks)),
        None,
    )


def targets(outcomes: list[Outcome]) -> str:
    """Mixtape's targets (bench/README.md), checked against this run's figures."""
    mine = [o for o in outcomes if o.design == "mixtape"]
    lines = []

    def check(ok: bool, text: str) -> None:
        lines.append(f"{'met    ' if ok else 'NOT MET'}  {text}")

    thousand = _find(outcomes, "mixtape", "import", 1_000)
    per_track = _find(outcomes, "per-track", "import", 1_000)
    if thousand:
        per = thousand.write_calls / thousand.tracks
        check(per <= 0.011, f"write calls per track <= 0.011: {per:.4f} (1,000 tracks)")
        check(
            thousand.total_calls <= 25,
            f"total calls for 1,000 tracks <= 25: {thousand.total_calls}",
        )
    if thousand and per_track:
        ratio = per_track.wall_s / thousand.wall_s
        check(
            ratio >= 8,
            f"at least 8x faster than the per-track design on 1,000 tracks: "
            f"{ratio:.0f}x ({thousand.wall_s:.1f} s against "
            f"{per_track.wall_s:.1f} s)",
        )
    throttled = [o for o in mine if o.scenario == DISCORD_429]
    size = throttled[0].tracks if throttled else None
    quiet = [o for o in mine if o.scenario == DISCORD_QUIET and o.tracks == size]
    if throttled and quiet:
        slow = statistics.median(o.wall_s for o in throttled)
        calm = statistics.median(o.wall_s for o in quiet)
        ratio = slow / calm
        check(
            ratio <= 1.10,
            f"Discord answering 429 to every edit costs the import <= 10 %: "
            f"{(ratio - 1) * 100:+.0f} % (median {slow:.2f} s against {calm:.2f} s quiet, "
            f"{len(throttled)} alternating pairs, {size:,} tracks)",
        )
    unchanged = next((o for o in mine if o.follow == "unchanged"), None)
    if unchanged:
        check(
            unchanged.total_calls == unchanged.members and not unchanged.error,
            f"an unchanged source costs one call: {unchanged.total_calls} calls for "
            f"{unchanged.members} entries",
        )
    changed = next((o for o in mine if o.follow == "changed"), None)
    if changed:
        exact = not (changed.error or changed.duplicates or changed.missing) and changed.in_order
        check(
            exact and not changed.extra_playlists,
            f"every follower's copy equals its changed source once updated: "
            f"{changed.members} copies, {changed.duplicates} duplicates, "
            f"{changed.missing} missing",
        )
    inside = sum(o.calls_in_retry_after for o in mine)
    check(inside == 0, f"calls inside Retry-After windows, every scenario: {inside}")
    dups = sum(o.duplicates for o in mine)
    check(dups == 0, f"duplicates in the target, every scenario: {dups}")
    failed = [o.scenario for o in mine if o.error or o.missing or not o.in_order]
    check(
        not failed,
        "every import complete and in order" + (f" (not: {', '.join(failed)})" if failed else ""),
    )
    return "\n".join(lines)


def write_json(outcomes: list[Outcome], meta: dict[str, Any], path: Path) -> None:
    path.write_text(
        json.dumps({"meta": meta, "runs": [asdict(o) for o in outcomes]}, separators=(",", ":"))
    )


def _finish_times(o: Outcome) -> list[float]:
    """When each member's import finished (older results: when its target was full)."""
    if o.finished:
        return o.finished
    return sorted(
        next((t for t, n in series if n >= o.tracks), float("nan"))
        for series in o.progress.values()
    )


def fairness(outcomes: list[Outcome]) -> str:
    """Per run of many members: when each member's import finished, first to last."""
    lines = []
    for o in outcomes:
        if o.members < 2:
            continue
        done = _finish_times(o)
        if len(done) <= 10:
            each = ", ".join(f"{t:.0f}" for t in done)
        else:
            median = done[len(done) // 2]
            each = f"{done[0]:.0f} .. {median:.0f} (median) .. {done[-1]:.0f}"
        if o.follow == "unchanged":
            lines.append(
                f"{o.scenario}, {o.members} entries / {o.design}: entries checked at {each} s "
                f"(first {done[0]:.1f} s, last {done[-1]:.1f} s)"
            )
            continue
        what = "followers' copies updated" if o.follow else "members finished"
        lines.append(
            f"{o.scenario}, {o.members}x{o.tracks:,} / {o.design}: {what} at "
            f"{each} s (first {done[0]:.1f} s, last {done[-1]:.1f} s, "
            f"{o.throughput:.0f} tracks/s)"
        )
    return "\n".join(lines)


SCALE_OUT = "scale-out"


def _scale_runs(outcomes: list[Outcome]) -> list[Outcome]:
    """The scale-out runs at their largest size in this run."""
    runs = [o for o in outcomes if o.scenario.startswith(SCALE_OUT)]
    if not runs:
        return []
    size = max((o.members, o.tracks) for o in runs)
    return [o for o in runs if (o.members, o.tracks) == size]


def chart(outcomes: list[Outcome], path: Path) -> None:
    """Calls over time per design (429s marked, Retry-After windows shaded), fairness, and
    the scale-out runs (every member's tracks over time, the SIGKILL marked)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    designs = list(dict.fromkeys(o.design for o in outcomes))
    picked = [
        s
        for s in ("import", "429 burst", "worker SIGKILL")
        if any(o.scenario == s for o in outcomes)
    ]
    size = max((o.tracks for o in outcomes if o.scenario == "429 burst"), default=1000)
    fair = "10 members at once"
    panels = [*picked, *([fair] if any(o.scenario == fair for o in outcomes) else [])]
    scale = _scale_runs(outcomes)
    ncols = max(len(designs), len(scale))
    nrows = len(panels) + (1 if scale else 0)
    if not nrows:  # only scenarios without a panel (a run with --only)
        fig = plt.figure(figsize=(4, 1))
        fig.text(0.5, 0.5, "no chart for these scenarios", ha="center")
        fig.savefig(path, dpi=90)
        plt.close(fig)
        return
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(5 * ncols, 3.2 * nrows), squeeze=False, sharex="row"
    )
    for row, scenario in enumerate(panels):
        for col in range(len(designs), ncols):
            axes[row][col].set_visible(False)
        for col, design in enumerate(designs):
            ax = axes[row][col]
            o = next(
                (
                    x
                    for x in outcomes
                    if x.design == design
                    and x.scenario == scenario
                    and (x.tracks == size or scenario == fair)
                ),
                None,
            )
            ax.set_title(
                f"{design}: {scenario}" + (f" ({size:,})" if o and not o.progress else ""),
                fontsize=9,
            )
            if o is None:
                ax.text(0.5, 0.5, "not run", ha="center", transform=ax.transAxes)
                continue
            if o.progress:
                _progress_panel(ax, o)
            else:
                for start, end in o.windows:
                    ax.axvspan(start, end, color="orange", alpha=0.2, linewidth=0)
                times = [t for t, _, _ in o.timeline]
                ax.step(times, range(1, len(times) + 1), where="post", linewidth=1)
                limited = [(t, i + 1) for i, (t, _, s) in enumerate(o.timeline) if s == 429]
                if limited:
                    ax.plot(*zip(*limited, strict=True), "rx", markersize=4, label="429")
                    ax.legend(fontsize=7, loc="lower right")
                if o.chaos_at is not None and scenario == "worker SIGKILL":
                    ax.axvline(o.chaos_at, color="red", linewidth=0.8, linestyle="--")
                    ax.text(o.chaos_at, 0, " SIGKILL", color="red", fontsize=7)
                ax.set_ylabel("Spotify calls (cumulative)", fontsize=8)
            ax.set_xlabel("seconds", fontsize=8)
            ax.tick_params(labelsize=7)
    if scale:
        row = nrows - 1
        last = max(o.wall_s for o in scale)
        for col in range(ncols):
            ax = axes[row][col]
            if col >= len(scale):
                ax.set_visible(False)
                continue
            o = scale[col]
            _progress_panel(ax, o)
            ax.set_xlim(0, last * 1.05)  # one time axis across the scale-out runs
            ax.set_title(
                f"{o.design}: {o.scenario.removeprefix(SCALE_OUT + ', ')}, "
                f"{o.members}x{o.tracks:,}\n{o.throughput:.0f} tracks/s",
                fontsize=9,
            )
            if o.chaos_at is not None:
                ax.axvline(o.chaos_at, color="red", linewidth=0.8, linestyle="--")
                ax.text(o.chaos_at, 0, " SIGKILL", color="red", fontsize=7)
            ax.set_xlabel("seconds", fontsize=8)
            ax.tick_params(labelsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _progress_panel(ax: Any, o: Outcome) -> None:
    """Each member's tracks in their target over time."""
    for series in o.progress.values():
        ax.plot([t for t, _ in series], [n for _, n in series], linewidth=0.8)
    if o.finished:  # when each import was finished (its summary written), as ticks
        ax.plot(o.finished, [o.tracks] * len(o.finished), "k|", markersize=9, label="finished")
        ax.legend(fontsize=7, loc="lower right")
    ax.set_ylabel("tracks in target", fontsize=8)


def update_readme(readme: Path, block: str) -> None:
    """Replace the results block of bench/README.md (between its two markers)."""
    content = readme.read_text()
    pattern = re.compile(re.escape(README_START) + ".*?" + re.escape(README_END), re.S)
    replacement = f"{README_START}\n{block}\n{README_END}"
    readme.write_text(pattern.sub(lambda _: replacement, content))
