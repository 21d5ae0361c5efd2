"""The processes and the encryption keys: the bot and the worker refuse to start with keys
that cannot read the stored tokens, saying which key is missing; `python -m
storage.rotate_keys` re-encrypts every token under the newest key so an old one can go."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from devtools.stack import REPO_ROOT
from storage.accounts import get_tokens, save_linked_account
from storage.crypto import TokenCipher, fingerprint, generate_key
from storage.engine import create_engine, make_sessionmaker
from storage.key_checks import check_database_keys

USER = 123_456_789_012_345_678


async def linked_database(tmp_path: Path, key: str) -> str:
    """A database whose one account's tokens are encrypted with `key` (checked and recorded,
    as the bot's first start leaves it)."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'mixtape.db'}"
    cipher = TokenCipher([key])
    await check_database_keys(url, cipher)
    engine = create_engine(url)
    try:
        async with make_sessionmaker(engine).begin() as session:
            await save_linked_account(
                session,
                cipher,
                discord_user_id=USER,
                spotify_user_id="ada",
                refresh_token="refresh-plaintext",
                scopes=["playlist-modify-private"],
            )
    finally:
        await engine.dispose()
    return url


def run(module: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """`python -m module` with these settings and none from a `.env`."""
    return subprocess.run(
        [sys.executable, "-m", module],
        cwd=env.pop("CWD"),
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


async def test_the_worker_refuses_a_wrong_key_and_names_the_missing_one(tmp_path: Path) -> None:
    right, wrong = generate_key(), generate_key()
    url = await linked_database(tmp_path, right)

    done = run(
        "workflows",
        {
            "CWD": str(tmp_path),
            "DATABASE_URL": url,
            "TOKEN_ENCRYPTION_KEYS": wrong,
            "PYTHONPATH": str(REPO_ROOT),
        },
    )

    assert done.returncode == 2, done.stderr[-2000:]
    assert f"TOKEN_ENCRYPTION_KEYS lacks the key with fingerprint {fingerprint(right)}" in (
        done.stderr
    )
    assert right not in done.stderr and wrong not in done.stderr


@pytest.mark.engine
async def test_the_bot_refuses_a_wrong_key_before_connecting(
    tmp_path: Path, stack_env: dict[str, str]
) -> None:
    right, wrong = generate_key(), generate_key()
    url = await linked_database(tmp_path, right)

    done = run(
        "bot",
        {
            **stack_env,
            "CWD": str(tmp_path),
            "PYTHONPATH": str(REPO_ROOT),
            "DATABASE_URL": url,
            "TOKEN_ENCRYPTION_KEYS": wrong,
            "DISCORD_TOKEN": "not-used",
            "DISCORD_API_BASE": "http://127.0.0.1:9/api/v10",  # never reached
            "SPOTIFY_CLIENT_ID": "app",
            "SPOTIFY_CLIENT_SECRET": "secret",
        },
    )

    assert done.returncode == 2, done.stderr[-2000:]
    assert f"lacks the key with fingerprint {fingerprint(right)}" in done.stderr


async def test_rotate_keys_moves_every_token_to_the_new_key(tmp_path: Path) -> None:
    old, new = generate_key(), generate_key()
    url = await linked_database(tmp_path, old)
    env = {"DATABASE_URL": url, "PYTHONPATH": str(REPO_ROOT)}

    missing = run(
        "storage.rotate_keys", {**env, "CWD": str(tmp_path), "TOKEN_ENCRYPTION_KEYS": new}
    )
    rotated = run(
        "storage.rotate_keys",
        {**env, "CWD": str(tmp_path), "TOKEN_ENCRYPTION_KEYS": f"{new},{old}"},
    )
    after = run("storage.rotate_keys", {**env, "CWD": str(tmp_path), "TOKEN_ENCRYPTION_KEYS": new})

    assert missing.returncode == 2 and "nothing was changed" in missing.stderr
    assert rotated.returncode == 0, rotated.stderr[-2000:]
    assert "Re-encrypted the Spotify tokens of 1 account(s)" in rotated.stdout
    assert "Entries #2 of TOKEN_ENCRYPTION_KEYS are no longer needed" in rotated.stdout
    assert after.returncode == 0, after.stderr[-2000:]  # the old key is no longer needed
    engine = create_engine(url)
    try:
        async with make_sessionmaker(engine).begin() as session:
            tokens = await get_tokens(session, TokenCipher([new]), USER)
    finally:
        await engine.dispose()
    assert tokens is not None and tokens.refresh_token == "refresh-plaintext"
