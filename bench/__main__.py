"""`python -m bench`: Mixtape against the per-track durable design and the plain script.

All three run in one process tree against one Hatchet engine and one fake Spotify, so the
figures are ratios from one run on one machine. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import report
from bench.designs import MixtapeDesign, PerTrackDesign, all_designs
from bench.follow import FollowBench
from bench.scenarios import DISCORD_429, DISCORD_QUIET, Outcome, Scenario, Timing, run
from bench.world import Config, World
from devtools.stack import STACK_DIR, log, pinned_engine_tag

HERE = Path(__file__).resolve().parent
ALL = ("mixtape", "per-track", "plain script")
FAST = ("mixtape", "plain script")
MIXTAPE = ("mixtape",)


def scenarios(full: bool, quick: bool = False) -> list[Scenario]:
    """The default set runs in about 10 minutes; `--full` adds the slow per-track runs,
    following (100 entries checked, 20 followers updated) and the big scale-out (50 members
    x 300 tracks); `--quick` is a small smoke run of every kind of scenario."""
    if quick:
        return [
            Scenario("import", 150),
            Scenario("429 burst", 150, chaos="burst"),
            Scenario("worker SIGKILL", 150, chaos="kill", side_by_side=True),
            Scenario("search, 1st import", 20, with_uris=False),
            Scenario("search, 2nd import (match cache)", 20, with_uris=False, cache_warm=True),
            Scenario("10 members at once", 20, members=3),
            *discord_pairs(150, 1),
            *following(entries=10, followers=3, added=20),
            *(s for s in scale_out(3, 20) if s.workers == 1 or s.chaos),
        ]
    big = ALL if full else FAST
    chaos_sizes = (100, 1_000, 5_000) if full else (300,)
    out = [
        Scenario("import", 100),
        Scenario("import", 1_000),
        *discord_pairs(1_000, 3),
        Scenario("import", 5_000, designs=big),
    ]
    for size in chaos_sizes:
        designs = big if size == 5_000 else ALL
        if size not in (100, 1_000, 5_000):
            out.append(Scenario("import", size))  # what the chaos runs are compared with
        out.append(Scenario("429 burst", size, chaos="burst", designs=designs))
        out.append(Scenario("worker SIGKILL", size, chaos="kill", designs=designs))
    out += [
        Scenario("search, 1st import", 100, with_uris=False),
        # the per-track design has no cache: its second import repeats its first
        Scenario(
            "search, 2nd import (match cache)",
            100,
            with_uris=False,
            cache_warm=True,
            designs=ALL if full else FAST,
        ),
        Scenario("10 members at once", 30, members=10),
        # following's set-up (100 real shares, 20 imports) is over a minute: --full only
        *(following(entries=100, followers=20, added=50) if full else []),
        *scale_out(20, 100),
    ]
    if full:
        out += scale_out(50, 300)
    return out


def discord_pairs(tracks: int, pairs: int) -> list[Scenario]:
    """Quiet imports alternating with imports whose every edit Discord answers 429.

    The check compares their medians: one import of 1,000 tracks takes about a second, and
    one pair of them read anything from -9 % to +21 % on a quiet machine (four alternating
    pairs: 1.5/1.4, 1.4/1.2, 1.3/1.1, 1.2/1.2 s, quiet/429)."""
    return [
        s
        for _ in range(pairs)
        for s in (
            Scenario(DISCORD_QUIET, tracks, designs=MIXTAPE),
            Scenario(DISCORD_429, tracks, chaos="discord", designs=MIXTAPE),
        )
    ]


FOLLOW_CHECK, FOLLOW_UPDATE = (
    "follow: check unchanged entries",
    "follow: update followers of a changed entry",
)


def following(entries: int, followers: int, added: int) -> list[Scenario]:
    """One scheduled check of `entries` unchanged shared playlists (10 songs each), and of
    one entry whose source gained `added` songs, which `followers` members follow."""
    return [
        Scenario(FOLLOW_CHECK, 10, members=entries, follow="unchanged", designs=MIXTAPE),
        Scenario(FOLLOW_UPDATE, added, members=followers, follow="changed", designs=MIXTAPE),
    ]


def scale_out(members: int, tracks: int, kill: bool = True) -> list[Scenario]:
    """Many members at once on one worker, on three, and on three with one SIGKILLed.

    The plain script (one process per member, no workers) runs once, beside one worker."""
    out = [
        Scenario("scale-out, 1 worker", tracks, members=members, designs=FAST),
        Scenario("scale-out, 3 workers", tracks, members=members, workers=3, designs=MIXTAPE),
    ]
    if kill:
        out.append(
            Scenario(
                "scale-out, 3 workers, 1 SIGKILLed",
                tracks,
                members=members,
                workers=3,
                chaos="kill one",
                designs=MIXTAPE,
            )
        )
    return out


async def bench(args: argparse.Namespace) -> list[Outcome]:
    timing = Timing(args.scale)
    config = Config(latency=args.latency)
    workdir = Path(tempfile.mkdtemp(prefix="bench-", dir=STACK_DIR))
    outcomes: list[Outcome] = []
    async with World(workdir, config) as world:
        designs = all_designs()
        for design in designs:
            if isinstance(design, PerTrackDesign):
                design.sleep_on_429 = 30 * args.scale
            await design.setup(world)
        songs: dict[tuple[int, bool], tuple[list[Any], int]] = {}
        world.limits_on()
        follow: FollowBench | None = None
        chosen_scenarios = [
            s for s in scenarios(args.full, args.quick) if not args.only or args.only in s.name
        ]
        for scenario in chosen_scenarios:
            key = (scenario.tracks, scenario.with_uris)
            if (
                key not in songs and not scenario.follow
            ):  # one catalog playlist per size, shared by every design
                tracks = world.spotify.generate_tracks(scenario.tracks, seed=len(songs) + 1)
                songs[key] = (
                    tracks,
                    await world.catalog_entry(
                        f"{scenario.tracks} songs", tracks, with_uris=scenario.with_uris
                    ),
                )
            if scenario.follow:  # Mixtape only: its own set-up and measure (bench/follow.py)
                mixtape = next(d for d in designs if isinstance(d, MixtapeDesign))
                await mixtape.scale(scenario.workers)
                log(f"bench: {scenario.name}, {scenario.members} x {scenario.tracks} songs")
                follow = follow or FollowBench(world, mixtape)
                o = await follow.run(scenario, f"s{len(outcomes)}mi")
                outcomes.append(o)
                log(
                    f"  {o.design}: {o.wall_s:.1f}s, {o.total_calls} calls, "
                    f"{o.duplicates} duplicates, {o.missing} missing"
                    + (f", {o.error}" if o.error else "")
                )
                continue
            tracks, entry = songs[key]
            chosen = [d for d in designs if d.name in scenario.designs]
            for d in chosen:
                await d.scale(scenario.workers)
            log(
                f"bench: {scenario.name}, {scenario.tracks:,} tracks"
                + (f" x {scenario.members} members" if scenario.members > 1 else "")
            )
            label = f"s{len(outcomes)}"
            if scenario.side_by_side:
                outcomes += await asyncio.gather(
                    *(
                        run(world, d, scenario, tracks, entry, timing, f"{label}{d.name[:2]}")
                        for d in chosen
                    )
                )
            else:
                for d in chosen:
                    outcomes.append(
                        await run(world, d, scenario, tracks, entry, timing, f"{label}{d.name[:2]}")
                    )
            for o in outcomes[-len(chosen) :]:
                log(
                    f"  {o.design}: {o.wall_s:.1f}s, {o.total_calls} calls, "
                    f"{o.duplicates} duplicates, {o.missing} missing"
                    + (f", {o.throughput:.0f} tracks/s" if o.members > 1 else "")
                    + (f", spread {o.spread_s:.1f}s" if o.spread_s is not None else "")
                    + (f", {o.error}" if o.error else "")
                )
    return outcomes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--scale",
        type=float,
        default=0.1,
        help="factor applied to every wait: Retry-After, the 30 s sleep",
    )
    parser.add_argument(
        "--latency", type=float, default=0.03, help="seconds the fake Spotify adds to every call"
    )
    parser.add_argument(
        "--full",
        action="store_true",
        help="also run the per-track design at 5,000 tracks and chaos at "
        "every size (about 30 minutes)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="a small smoke run of every kind of scenario"
    )
    parser.add_argument(
        "--only",
        metavar="TEXT",
        help="run only the scenarios whose name holds TEXT (needs --out: the README's "
        "results are a whole run's)",
    )
    parser.add_argument("--out", type=Path, default=HERE / "results")
    parser.add_argument(
        "--render",
        action="store_true",
        help="only re-render the table, chart and README block from OUT/latest.json",
    )
    args = parser.parse_args(argv)
    if args.only and args.out.resolve() == (HERE / "results").resolve():
        parser.error("--only needs --out DIR")
    if args.render:
        saved = json.loads((args.out / "latest.json").read_text())
        publish([Outcome(**run) for run in saved["runs"]], saved["meta"], args.out)
        return 0
    started = time.monotonic()
    outcomes = asyncio.run(bench(args))
    args.out.mkdir(parents=True, exist_ok=True)
    meta = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "engine": pinned_engine_tag(),
        "scale": args.scale,
        "latency_s": args.latency,
        "full": args.full,
        "machine": f"{platform.machine()}, {os.cpu_count() or 1} CPUs",
        "duration_s": round(time.monotonic() - started),
    }
    report.write_json(outcomes, meta, args.out / "latest.json")
    publish(outcomes, meta, args.out)
    return 0


def publish(outcomes: list[Outcome], meta: dict[str, Any], out: Path) -> None:
    """The chart, OUT/table.md, the README block (default folder only) and stdout."""
    report.chart(outcomes, out / "calls.png")

    def block(image: str) -> str:
        return "\n\n".join(
            [
                f"Run {meta['date']} on {meta['machine']}, engine {meta['engine']}, latency "
                f"{meta['latency_s'] * 1000:.0f} ms, time scale {meta['scale']}, "
                f"{meta['duration_s']} s in all.",
                "Mixtape's targets, checked on this run:\n\n```\n"
                + report.targets(outcomes)
                + "\n```",
                report.markdown(outcomes),
                "Calls by route:\n\n```\n" + report.routes(outcomes) + "\n```",
                "Members at once, when each finished:\n\n```\n"
                + report.fairness(outcomes)
                + "\n```",
                f"![calls over time]({image})",
            ]
        )

    (out / "table.md").write_text(block("calls.png") + "\n")
    if out.resolve() == (HERE / "results").resolve():
        report.update_readme(HERE / "README.md", block("results/calls.png"))
    print(report.text(outcomes))
    print()
    print(report.targets(outcomes))
    print()
    print(report.routes(outcomes))
    print()
    print(report.fairness(outcomes))
    print(f"\nJSON {out / 'latest.json'}, chart {out / 'calls.png'}, {meta['duration_s']} s in all")


if __name__ == "__main__":
    raise SystemExit(main())
