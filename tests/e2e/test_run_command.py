"""The README's run command: offline it brings the real bot and worker up against the fakes;
with a token but no Spotify settings it refuses clearly."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from mixtape.stack import REPO_ROOT

pytestmark = pytest.mark.engine

_OUR_SETTINGS = ("DISCORD_", "SPOTIFY_", "TOKEN_ENCRYPTION_KEYS", "DATABASE_URL")


def _run(env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mixtape"], cwd=REPO_ROOT, env=env, capture_output=True,
        text=True, timeout=timeout, check=False,
    )


def _clean_env(stack_env: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_OUR_SETTINGS)}
    return {**env, **stack_env}


def test_offline_run_comes_up_against_the_fakes(stack_env: dict[str, str]) -> None:
    done = _run(_clean_env(stack_env), timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "DISCORD_TOKEN is not set" in done.stderr
    assert "Mixtape is up (offline demo)" in done.stdout
    for command in ("/share", "/catalog", "/link"):
        assert command in done.stdout
    assert "worker  healthy" in done.stdout


def test_real_run_names_missing_settings(stack_env: dict[str, str]) -> None:
    env = {**_clean_env(stack_env), "DISCORD_TOKEN": "a-real-looking-token"}
    done = _run(env, timeout=60)
    assert done.returncode == 2
    assert "SPOTIFY_CLIENT_ID" in done.stderr and "TOKEN_ENCRYPTION_KEYS" in done.stderr
