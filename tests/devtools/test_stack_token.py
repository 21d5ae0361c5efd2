"""The real bot's local stack (`scripts/run` with a Discord token) never starts with a
token that an earlier start kept: it may have expired (the engine refuses it) or name an
engine that is gone. Every start mints one that outlives the run.
"""

from __future__ import annotations

import base64
import json
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from hatchet_sdk.token import extract_claims_from_jwt

from devtools.stack import BIN_DIR, LocalStack

pytestmark = pytest.mark.engine(own_stack=True)  # starts a stack of its own


def expiry(token: str) -> float:
    """The token's `exp` claim."""
    payload = token.split(".")[1]
    return float(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["exp"])


def status_with(token: str, api: str) -> int:
    tenant = extract_claims_from_jwt(token).sub
    request = urllib.request.Request(  # noqa: S310 - the local engine
        f"{api}/api/v1/stable/tenants/{tenant}/workflow-runs?"
        + urllib.parse.urlencode({"since": "2026-01-01T00:00:00+00:00", "only_tasks": "true"}),
        headers={"Authorization": f"Bearer {token}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def test_a_kept_expired_token_is_replaced_by_a_long_lived_one(tmp_path: Path) -> None:
    stack = LocalStack(tmp_path / "local", durable=True)
    try:
        first = stack.start()
        minted = subprocess.run(
            [
                str(BIN_DIR / "hatchet-admin"),
                "--config",
                first.config_dir,
                "token",
                "create",
                "--name",
                "short",
                "--expiresIn",
                "1s",
            ],
            env=stack._lite_env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        expired = minted.stdout.strip().splitlines()[-1]
        time.sleep(2)
        assert status_with(expired, first.api_url) in (401, 403)  # the engine refuses it
        stack.stop()
        (stack.root / "hatchet-token").write_text(expired)  # what an older start kept

        second = stack.start()

        assert second.hatchet_token != expired
        assert status_with(second.hatchet_token, second.api_url) == 200
        assert extract_claims_from_jwt(second.hatchet_token).server_url == second.api_url
        assert expiry(second.hatchet_token) > time.time() + 5 * 365 * 86400
        assert not (stack.root / "hatchet-token").exists()
    finally:
        stack.stop()
        stack.remove()
