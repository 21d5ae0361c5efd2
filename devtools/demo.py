"""The offline demo's script, played against the real bot and worker in a simulated server.

Ada links Spotify and shares her 300-track playlist; Bea links and imports it. Mid-import
the worker is SIGKILLed and a new one started, then Spotify answers a burst of 429s. The
terminal shows the channel as members would see it, a live progress bar and a narration;
at the end the fakes' records are checked: the target equals the source, in order, with no
duplicate, and no call came inside a Retry-After window. Spotify's adds are slowed on the
fake (not in the workflow) so the kill lands mid-import.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TextIO, TypeVar

import requests
from hatchet_sdk.token import extract_claims_from_jwt

from devtools.offline import IMPORTER, SHARER, SOURCE_NAME, OfflineWorld
from fakes.browser import Browser
from fakes.channel_view import LOADING, ChannelView
from fakes.interactions import FakeUser, InteractionDriver
from fakes.spotify_model import Fault
from fakes.transcript import write_transcript

T = TypeVar("T")

ADD = "POST /v1/playlists/{id}/items"
#: Each of Bea's adds takes this long before the kill, so the kill lands between batches.
ADD_DELAY_SECONDS = 4
BURST_429S = 3
RETRY_AFTER_SECONDS = 3
POLL_SECONDS = 0.2
HTTP_TIMEOUT_SECONDS = 10.0
BAR_WIDTH = 30
#: Without a TTY, a changed bar is printed at most this often.
BAR_PRINT_SECONDS = 5.0
#: Where the channel's HTML transcript goes, when set (tests ask for it in their tmp dir).
TRANSCRIPT_ENV = "MIXTAPE_DEMO_TRANSCRIPT"


class DemoFailed(Exception):
    """A step did not happen in time; the message says which."""


class Processes(Protocol):
    """The bot and worker processes, as the run command holds them."""

    def alive(self) -> bool: ...

    def kill_worker(self) -> int:
        """SIGKILL the worker's process group; returns the pid it had."""
        ...

    def start_worker(self) -> int:
        """Start a new worker; returns its pid."""
        ...


@dataclass(frozen=True)
class Member:
    """A server member and the fake Spotify account they link."""

    user: FakeUser
    spotify_id: str


class Terminal:
    """Narration, channel messages and one progress bar on stdout.

    On a TTY the bar is one line redrawn with `\\r` below everything else; otherwise a bar
    line is printed only when the bar changed, at most every `BAR_PRINT_SECONDS`.
    """

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.tty = out.isatty()
        self._bar = ""
        self._printed_bar = ""
        self._printed_at = 0.0

    def say(self, text: str) -> None:
        """A narration line: what happens in the script."""
        self.lines([f">>> {text}"])

    def lines(self, lines: list[str]) -> None:
        if self.tty and self._bar:
            self.out.write("\r\033[K")
        self.out.write("\n".join(lines) + "\n")
        if self.tty and self._bar:
            self.out.write(self._bar)
        self.out.flush()

    def bar(self, done: int, total: int, note: str, *, force: bool = False) -> None:
        filled = BAR_WIDTH * done // total if total else 0
        self._bar = f"import [{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {done}/{total}  {note}"
        if self.tty:
            if self._bar != self._printed_bar:
                self._printed_bar = self._bar
                self.out.write("\r\033[K" + self._bar)
                self.out.flush()
            return
        now = time.monotonic()
        due = force or now - self._printed_at >= BAR_PRINT_SECONDS
        if self._bar != self._printed_bar and due:
            self._printed_bar, self._printed_at = self._bar, now
            self.out.write(self._bar + "\n")
            self.out.flush()

    def end_bar(self) -> None:
        """Leave the bar's last state on its own line."""
        if self.tty and self._bar:
            self.out.write("\n")
            self.out.flush()
        self._bar = ""


class Demo:
    """The script: each step acts as a member would, then polls with a deadline."""

    def __init__(
        self,
        world: OfflineWorld,
        processes: Processes,
        hatchet_token: str | None,
        out: TextIO = sys.stdout,
        transcript: Path | None = None,
    ) -> None:
        self.world = world
        self.discord = world.discord
        self.spotify = world.spotify
        self.processes = processes
        self.hatchet_token = hatchet_token
        self.term = Terminal(out)
        self.ada = Member(FakeUser(10**17 + 1, "Ada"), SHARER)
        self.bea = Member(FakeUser(10**17 + 2, "Bea"), IMPORTER)
        names = {self.ada.user.id: "Ada", self.bea.user.id: "Bea"}
        self.names = names
        self.transcript = transcript or _default_transcript()
        self.drivers = {
            m.spotify_id: InteractionDriver.over_gateway(self.discord, user=m.user)
            for m in (self.ada, self.bea)
        }
        self.channel = ChannelView(self.discord, self.discord.channel_id, names)
        self.started = time.monotonic()
        self.started_at = datetime.now(UTC)
        self.target_id: str | None = None
        self.total = 0
        self.phase = "starting"
        self.killed_at: float | None = None
        self.added_at_kill = 0
        self.resumed_after: float | None = None
        self.slow: Fault | None = None
        self._seen_429s = 0
        self._size_at_429 = 0
        self._worker_down = False
        self._size_when_killed = 0
        self._bar_closed = False

    # -- the script ---------------------------------------------------------------------

    async def play(self) -> int:
        """Run every step; 0 when all checks pass, 1 with the reason otherwise."""
        self.term.say(
            "the script starts: Ada and Bea are members of a server where Mixtape "
            "runs; the channel is shown as they would see it"
        )
        if self.hatchet_token:
            self.term.say(
                f"every share and import is a Hatchet run; the engine's API lists them: "
                f"GET {self._runs_url(self.hatchet_token)}"
            )
        try:
            await self._link(self.ada)
            await self._share()
            await self._link(self.bea)
            await self._import()
            await self._kill_and_replace_worker()
            await self._finish()
        except DemoFailed as exc:
            self._close_bar()
            self.term.say(f"FAILED: {exc}")
            for name in ("worker", "bot"):
                self.term.lines([f"--- {name} log (last lines) ---", self.world.log_tail(name)])
            self.term.lines([await self._write_transcript()])
            return 1
        finally:
            for driver in self.drivers.values():
                driver.close()
        return self._report(await self._write_transcript())

    async def _write_transcript(self) -> str:
        """The channel in Discord's look, as an HTML file; the line that names it."""
        path = await write_transcript(
            self.discord, self.discord.channel_id, self.names, self.transcript
        )
        return f"The channel as members saw it (open in a browser): {path}"

    async def _link(self, member: Member) -> None:
        name = member.user.name
        self.term.say(f"{name} runs /link")
        handle = await self._driver(member).slash("link")
        reply = await self._until(
            lambda: self.discord.interaction_response(handle.id),
            15,
            f"the bot to answer {name}'s /link",
        )
        url = _link_button(reply.data)
        async with Browser(timeout=HTTP_TIMEOUT_SECONDS) as browser:
            ours = await browser.open(url)
            if ours.status != 200 or "<form" not in ours.text:
                raise DemoFailed(f"the bot's link page answered {ours.status}: {ours.text[:200]}")
            self.term.say(
                f"{name} opens the link: the bot's page names her Discord account; "
                "she presses Continue to Spotify"
            )
            pressed = await browser.submit(ours)
            if pressed.status != 303:
                raise DemoFailed(f"the bot's link page answered {pressed.status} to the button")
            self.term.say(
                f"{name} agrees on Spotify's consent page (fake Spotify user {member.spotify_id!r})"
            )
            back = await browser.open(self.spotify.consent_url(pressed.location, member.spotify_id))
            page = await browser.follow(back)
        if page.status != 200 or "Linked as" not in page.text:
            raise DemoFailed(f"the bot's OAuth callback answered {page.status}: {page.text[:200]}")
        self.term.say(
            f"{name}'s browser lands on the bot's callback: {page.status}, "
            f'"Linked as {self.spotify.users[member.spotify_id].display_name}"'
        )

    async def _share(self) -> None:
        """Ada shares her playlist; done when the channel shows the catalog entry."""
        assert self.world.source is not None
        url = f"https://open.spotify.com/playlist/{self.world.source.id}"
        self.term.say(f"Ada runs /share url:{url}")
        handle = await self._driver(self.ada).slash("share", {"url": url})
        await self._until(
            lambda: _done_thinking(self.discord.original_response(handle.token)),
            20,
            "the bot to acknowledge /share",
        )
        self.term.say("the worker reads the playlist page by page into the server's catalog")

        def shared() -> str | None:
            if self.channel.latest_embed_title("Could not share"):
                raise DemoFailed("the share failed (see the channel above)")
            text = self.channel.public_text()
            return text if f"== {SOURCE_NAME} ==" in text and "Tracks:" in text else None

        await self._until(shared, 90, "the share to finish")
        self.term.say("the share is done: Late Night Drive is in the catalog")

    async def _pick_from_catalog(self) -> str:
        """Bea types a few letters; the bot's autocomplete answers with the catalog entry."""
        self.term.say("Bea types /import playlist:Late … and Discord asks the bot for suggestions")
        complete = await self._driver(self.bea).autocomplete(
            "import", {"playlist": "Late"}, focused="playlist"
        )
        answer = await self._until(
            lambda: self.discord.interaction_response(complete.id),
            15,
            "the bot to suggest playlists",
        )
        for choice in answer.choices:
            self.term.lines([f"    suggestion: {choice['name']}"])
        picked = next((c for c in answer.choices if SOURCE_NAME in c["name"]), None)
        if picked is None:
            raise DemoFailed(f"{SOURCE_NAME} is not among the suggestions {answer.choices}")
        return str(picked["value"])

    async def _import(self) -> None:
        entry = await self._pick_from_catalog()
        self.slow = self.spotify.inject(
            ADD, "delay", times=None, seconds=ADD_DELAY_SECONDS, user=self.bea.spotify_id
        )
        self.term.say(
            f"(the fake Spotify now answers each of Bea's adds after "
            f"{ADD_DELAY_SECONDS} s, so the kill below lands mid-import)"
        )
        self.term.say(f"Bea runs /import playlist:{SOURCE_NAME}")
        handle = await self._driver(self.bea).slash("import", {"playlist": entry})
        await self._until(
            lambda: _done_thinking(self.discord.original_response(handle.token)),
            20,
            "the bot to acknowledge /import",
        )
        self.phase = "adding batches of 100"
        playlists = await self._until(
            lambda: self.spotify.playlists_of(self.bea.spotify_id),
            60,
            "the import to create Bea's playlist",
        )
        self.target_id = playlists[0].id
        self.total = len(self.spotify.playlist_uris(self._source_id()))

    async def _kill_and_replace_worker(self) -> None:
        slow = self.slow
        assert slow is not None
        # A fault fires when its call arrives (calls are recorded when answered).
        await self._until(lambda: slow.fired >= 2, 90, "the second batch to be on its way")
        self.added_at_kill = self._target_size()
        self.term.say(
            f"{self.added_at_kill}/{self.total} added and the next batch is in "
            "flight: killing the worker (SIGKILL to its process group)"
        )
        pid = self.processes.kill_worker()
        self.killed_at = time.monotonic()
        self._worker_down, self._size_when_killed = True, self.added_at_kill
        self.phase = "worker killed"
        self.spotify.clear_faults()  # Spotify is fast again; the add in flight still lands late
        self.spotify.inject(ADD, "429", times=BURST_429S, retry_after=RETRY_AFTER_SECONDS)
        self.term.say(f"worker pid {pid} is gone; starting a new worker")
        new_pid = self.processes.start_worker()
        await self._until(self.world.worker_healthy, 60, "the new worker to be healthy")
        self.term.say(
            f"new worker pid {new_pid} is healthy; the Hatchet engine hands it the "
            "dead worker's tasks, usually about 30 s after the kill"
        )
        self.phase = "waiting for the engine to reassign"
        killed_at = self.killed_at

        def resumed() -> bool:
            return any(
                c.at > killed_at and c.user_id == self.bea.spotify_id for c in self.spotify.calls
            )

        # Usually ~30 s (the killed task's timeout); on a loaded machine it has taken 75 s.
        await self._until(resumed, 180, "the engine to hand the import to the new worker")
        self.resumed_after = time.monotonic() - killed_at
        self._worker_down = False
        self.phase = "resumed"
        self.term.say(
            f"the new worker resumed the import {self.resumed_after:.0f} s after the "
            "kill: it re-reads the target's tail before adding anything"
        )

    async def _finish(self) -> None:
        def finished() -> str | None:
            if self.channel.latest_embed_title(f"Import of {SOURCE_NAME}"):
                raise DemoFailed("the import stopped (see the channel above)")
            title = self.channel.latest_embed_title(f"Imported {SOURCE_NAME}")
            return title if title and self._target_size() >= self.total else None

        await self._until(finished, 150, "the import to finish")
        self.phase = "done"
        self._close_bar()

    # -- checks -------------------------------------------------------------------------

    def _report(self, transcript_line: str) -> int:
        source = self.spotify.playlist_uris(self._source_id())
        target = self.spotify.playlist_uris(self.target_id or "")
        duplicates = len(target) - len(set(target))
        inside = self.spotify.calls_inside_retry_after_windows()
        rejected = self.spotify.count(ADD, status=429)
        lines = ["", "Spotify calls by route (whole demo):"]
        by_route = Counter(c.route for c in self.spotify.calls)
        for route, count in sorted(by_route.items()):
            statuses = Counter(c.status for c in self.spotify.calls if c.route == route)
            detail = ", ".join(f"{n} x {status}" for status, n in sorted(statuses.items()))
            lines.append(f"  {route:<40} {count:>4}  ({detail})")
        lines += ["", *self._hatchet_runs(), ""]
        checks = [
            (
                target == source,
                f"target equals source, in order: "
                f"{len(target)} tracks in target, {len(source)} in source",
            ),
            (duplicates == 0, f"duplicates in the target: {duplicates}"),
            (not inside, f"calls inside Retry-After windows: {len(inside)}"),
            (
                0 < self.added_at_kill < self.total and self.resumed_after is not None,
                f"worker killed mid-import at {self.added_at_kill}/{self.total} and replaced; "
                f"the new one resumed {self.resumed_after or 0:.0f} s after the kill",
            ),
            (
                rejected == BURST_429S,
                f"429 burst on the add route: {rejected} adds answered 429 "
                f"(Retry-After {RETRY_AFTER_SECONDS} s), all waited out",
            ),
        ]
        lines.append("Checks:")
        lines += [f"  {'ok    ' if ok else 'FAILED'}  {text}" for ok, text in checks]
        failed = [text for ok, text in checks if not ok]
        took = time.monotonic() - self.started
        lines.append(transcript_line)
        lines.append(f"The script took {took:.0f} s.")
        lines.append(
            "All checks passed."
            if not failed
            else f"{len(failed)} check(s) failed: {'; '.join(failed)}"
        )
        self.term.lines(lines)
        return 0 if not failed else 1

    def _hatchet_runs(self) -> list[str]:
        """The engine's record of this demo's runs, from its REST API (best effort)."""
        if not self.hatchet_token:
            return ["Hatchet runs: no token to read them with"]
        url = self._runs_url(self.hatchet_token)
        params = {"since": self.started_at.isoformat(), "only_tasks": "true", "limit": "500"}
        try:
            response = requests.get(
                url,
                params=params,
                timeout=HTTP_TIMEOUT_SECONDS,
                headers={"Authorization": f"Bearer {self.hatchet_token}"},
            )
            response.raise_for_status()
            rows: list[dict[str, Any]] = response.json().get("rows") or []
        except (requests.RequestException, ValueError) as exc:
            return [f"Hatchet runs: could not list them ({exc})"]
        lines = [f"Hatchet runs of this demo (GET {url}):"]
        names = Counter(str(r.get("workflowName") or r.get("displayName")) for r in rows)
        for name, count in sorted(names.items()):
            mine = [r for r in rows if str(r.get("workflowName") or r.get("displayName")) == name]
            statuses = Counter(str(r.get("status")) for r in mine)
            retried = sum(1 for r in mine if int(r.get("retryCount") or 0) > 0)
            detail = ", ".join(f"{n} {s}" for s, n in sorted(statuses.items()))
            extra = f", {retried} retried" if retried else ""
            lines.append(f"  {name:<28} {count:>4}  ({detail}{extra})")
        return lines

    @staticmethod
    def _runs_url(token: str) -> str:
        """The engine's run list for our tenant (both are in the API token's claims)."""
        claims = extract_claims_from_jwt(token)
        return f"{claims.server_url}/api/v1/stable/tenants/{claims.sub}/workflow-runs"

    # -- polling and display ------------------------------------------------------------

    async def _until(self, probe: Callable[[], T | None], within: float, what: str) -> T:
        """Poll `probe` (showing the channel and the bar meanwhile) until it returns a value."""
        deadline = time.monotonic() + within
        while True:
            self._pump()
            result = probe()
            if result:
                return result
            if not self.processes.alive():
                raise DemoFailed(f"the bot or the worker exited while waiting for {what}")
            if time.monotonic() > deadline:
                raise DemoFailed(f"timed out after {within:.0f} s waiting for {what}")
            await asyncio.sleep(POLL_SECONDS)

    def _pump(self) -> None:
        """Print what is new in the channel and in Spotify's answers; redraw the bar."""
        for block in self.channel.new_blocks():
            self.term.lines(["", *block])
        rejected = self.spotify.count(ADD, status=429)
        # The burst is armed at the kill, so it can only come after the resumption.
        if self.resumed_after is not None and rejected > self._seen_429s:
            self._seen_429s, self._size_at_429 = rejected, self._target_size()
            self.phase = f"waiting out Retry-After {RETRY_AFTER_SECONDS} s"
            self.term.say(
                f"429 burst on the add route: Spotify answered 429 "
                f"(Retry-After {RETRY_AFTER_SECONDS} s), {rejected} of {BURST_429S}"
            )
        if self._worker_down and self._target_size() > self._size_when_killed:
            self._size_when_killed = self._target_size()
            self.term.say(
                "the add that was in flight landed on Spotify after the kill; "
                "no worker heard the answer"
            )
        if self.phase.startswith("waiting out") and self._target_size() > self._size_at_429:
            self.phase = "adding batches of 100"
        self._draw_bar()

    def _close_bar(self) -> None:
        """Show the bar's final state once more, then stop drawing it."""
        self._draw_bar(force=True)
        self.term.end_bar()
        self._bar_closed = True

    def _draw_bar(self, force: bool = False) -> None:
        if self.target_id is None or not self.total or self._bar_closed:
            return
        note = self.phase
        if self._worker_down and self.killed_at is not None:
            note += f" ({time.monotonic() - self.killed_at:.0f} s since the kill)"
        self.term.bar(self._target_size(), self.total, note, force=force)

    def _target_size(self) -> int:
        return len(self.spotify.playlist_uris(self.target_id)) if self.target_id else 0

    def _source_id(self) -> str:
        assert self.world.source is not None
        return self.world.source.id

    def _driver(self, member: Member) -> InteractionDriver:
        return self.drivers[member.spotify_id]


def _link_button(data: dict[str, Any]) -> str:
    """The URL on the link button of a /link answer."""
    for row in data.get("components") or []:
        for item in row.get("components") or []:
            if item.get("url"):
                return str(item["url"])
    raise DemoFailed(f"no link button in the /link answer: {data}")


def _done_thinking(message: dict[str, Any] | None) -> bool:
    return message is not None and not int(message.get("flags") or 0) & LOADING


def _default_transcript() -> Path:
    """$MIXTAPE_DEMO_TRANSCRIPT, else a new file in the temp dir (a demo leaves no repo files)."""
    chosen = os.environ.get(TRANSCRIPT_ENV)
    if chosen:
        return Path(chosen)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return Path(tempfile.gettempdir()) / f"mixtape-demo-{stamp}.html"


def play(world: OfflineWorld, processes: Processes, hatchet_token: str | None) -> int:
    """Play the script; 0 when every check passed."""
    return asyncio.run(Demo(world, processes, hatchet_token).play())
