"""The README's run command: offline it brings the real bot and worker up against the fakes
and plays the demo script (share, import, a killed worker, a 429 burst) to a checked end;
`--serve` comes up and serves until Ctrl-C; with a token but no Spotify settings it refuses
clearly."""

from __future__ import annotations

import os
import re
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

import pytest

from devtools.stack import REPO_ROOT

pytestmark = pytest.mark.engine

_OUR_SETTINGS = ("DISCORD_", "SPOTIFY_", "TOKEN_ENCRYPTION_KEYS", "DATABASE_URL")


def _run(env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "devtools"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _clean_env(stack_env: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_OUR_SETTINGS)}
    return {**env, **stack_env}


def _check(stdout: str, text: str) -> None:
    """The demo's summary lists `text` as a passed check."""
    assert re.search(rf"^\s*ok\s+{re.escape(text)}", stdout, re.MULTILINE), text


def _bot_and_worker(pid: int) -> list[int]:
    """The bot and worker processes `pid` started (its children running `-m bot` or
    `-m workflows`), read from /proc."""
    found: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue  # exited while we looked
        ours = " -m bot" in cmdline or " -m workflows" in cmdline
        if ours and int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def _serve(stack_env: dict[str, str], stdout: int, stderr: IO[bytes]) -> subprocess.Popen[bytes]:
    """`python -m devtools --serve` against the test's engine, unbuffered."""
    return subprocess.Popen(
        [sys.executable, "-m", "devtools", "--serve"],
        cwd=REPO_ROOT,
        env=_clean_env(stack_env),
        stdout=stdout,
        stderr=stderr,
        bufsize=0,
    )


def _gone(pids: list[int]) -> bool:
    """Every pid has exited (a zombie has too: its parent simply has not reaped it yet)."""
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            return False
    return True


def test_offline_run_plays_the_demo_script_to_a_checked_end(stack_env: dict[str, str]) -> None:
    done = _run(_clean_env(stack_env), timeout=600)  # a hang guard, not an assertion
    out = done.stdout
    assert done.returncode == 0, out[-4000:] + done.stderr[-3000:]
    assert "DISCORD_TOKEN is not set" in done.stderr
    assert "Mixtape is up (offline demo)" in out and "worker  healthy" in out
    assert "the engine's API lists them: GET http://127.0.0.1:" in out

    # The script's steps, in order.
    steps = [
        "Ada runs /link",
        '"Linked as Ada"',
        "Ada runs /share",
        "Bea runs /link",
        '"Linked as Bea"',
        "Bea runs /import",
        "killing the worker",
        "starting a new worker",
        "the new worker resumed the import",
        "429 burst on the add route",
    ]
    positions = [out.find(step) for step in steps]
    assert -1 not in positions, [s for s, p in zip(steps, positions, strict=True) if p == -1]
    assert positions == sorted(positions), positions

    # The channel as members see it: the share's summary, the import's progress and end.
    assert "== Late Night Drive ==" in out and "Tracks: 300" in out
    assert "== Importing Late Night Drive ==" in out
    assert "== Imported Late Night Drive ==" in out and "Added: 300" in out
    assert "[only Bea sees this]" in out
    assert re.search(r"^import \[#+\] 300/300", out, re.MULTILINE)  # the bar, finished

    # The measured outcome.
    _check(out, "target equals source, in order: 300 tracks in target, 300 in source")
    _check(out, "duplicates in the target: 0")
    _check(out, "calls inside Retry-After windows: 0")
    _check(out, "worker killed mid-import at ")
    _check(out, "429 burst on the add route: 3 adds answered 429")
    assert "POST /v1/playlists/{id}/items" in out  # the calls-by-route table
    assert "FAILED" not in out
    assert out.rstrip().endswith("All checks passed.")


def test_offline_serve_comes_up_and_stops_on_ctrl_c(
    stack_env: dict[str, str], tmp_path: Path
) -> None:
    errors = (tmp_path / "stderr").open("w+b")
    child = _serve(stack_env, subprocess.PIPE, errors)
    assert child.stdout is not None
    seen = b""
    try:
        with selectors.DefaultSelector() as selector:
            selector.register(child.stdout, selectors.EVENT_READ)
            deadline = time.monotonic() + 180  # a hang guard, not an assertion
            while b"worker  healthy" not in seen:
                if child.poll() is not None or time.monotonic() > deadline:
                    errors.seek(0)
                    tail = errors.read().decode(errors="replace")[-6000:]
                    pytest.fail(f"--serve did not come up: {seen.decode()}\n{tail}")
                if selector.select(timeout=1):  # unbuffered: what select saw is what we read
                    seen += os.read(child.stdout.fileno(), 65536)
        ours = _bot_and_worker(child.pid)
        assert len(ours) == 2
        child.send_signal(signal.SIGINT)  # Ctrl-C: it stops the bot, the worker, the fakes
        code = child.wait(timeout=120)
        errors.seek(0)
        assert code == 0, errors.read().decode(errors="replace")[-6000:]
        assert _gone(ours)
    finally:
        if child.poll() is None:  # the parent's own Ctrl-C path stops its children
            child.send_signal(signal.SIGINT)
            try:
                child.wait(timeout=60)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait(timeout=30)
    text = seen.decode()
    assert "Mixtape is up (offline demo)" in text
    for command in ("/share", "/catalog", "/link", "/import"):
        assert command in text
    assert "runs /link" not in text  # serving only: no script


def test_offline_serve_stopped_while_coming_up_stops_its_children(
    stack_env: dict[str, str], tmp_path: Path
) -> None:
    """Ctrl-C before the bot and worker are up (the moment the last CI run hit by chance)."""
    errors = (tmp_path / "stderr").open("w+b")
    child = _serve(stack_env, subprocess.DEVNULL, errors)
    try:
        deadline = time.monotonic() + 120  # a hang guard, not an assertion
        ours: list[int] = []
        while len(ours) < 2:  # both spawned: the window between spawn and "up"
            assert child.poll() is None and time.monotonic() < deadline, "no bot and worker"
            ours = _bot_and_worker(child.pid)
            time.sleep(0.05)  # a poll of /proc; nothing to wait on
        child.send_signal(signal.SIGINT)
        code = child.wait(timeout=120)
        errors.seek(0)
        text = errors.read().decode(errors="replace")
        assert code == 0, text[-6000:]
        assert "Traceback" not in text
        assert _gone(ours)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=30)


def test_real_run_names_missing_settings(stack_env: dict[str, str]) -> None:
    env = {**_clean_env(stack_env), "DISCORD_TOKEN": "a-real-looking-token"}
    done = _run(env, timeout=60)
    assert done.returncode == 2
    assert "SPOTIFY_CLIENT_ID" in done.stderr and "TOKEN_ENCRYPTION_KEYS" in done.stderr
