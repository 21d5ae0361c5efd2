"""deploy/Caddyfile run by the real Caddy (the version compose's image has, built by
scripts/bootstrap): /link's two pages reach the bot, nothing else does (not /healthz), and
a https:// PUBLIC_BASE_URL gets automatic certificates for its domain.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from devtools.stack import BIN_DIR, REPO_ROOT, free_port
from tests.deploy.processes import port_open, wait_for

CADDY = BIN_DIR / "caddy"
CADDYFILE = REPO_ROOT / "deploy" / "Caddyfile"


class Upstream(ThreadingHTTPServer):
    """Stands in for the bot: answers 200 'bot' and records every path it was asked."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                upstream.paths.append(self.path)
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"bot")

            def log_message(self, *args: object) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)


def caddy_env(tmp_path: Path, public_base_url: str, bot: str) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "PUBLIC_BASE_URL": public_base_url,
        "BOT_ADDRESS": bot,
        "CADDY_ADMIN": f"127.0.0.1:{free_port()}",
    }


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    server = Upstream()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_only_the_link_pages_are_forwarded_to_the_bot(tmp_path: Path, upstream: Upstream) -> None:
    port = free_port()
    env = caddy_env(tmp_path, f"http://127.0.0.1:{port}", f"127.0.0.1:{upstream.server_port}")
    with (tmp_path / "caddy.log").open("wb") as log:
        caddy = subprocess.Popen(
            [str(CADDY), "run", "--config", str(CADDYFILE)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for(lambda: port_open(port) or caddy.poll() is not None, 30, "Caddy to listen")
        assert caddy.poll() is None, (tmp_path / "caddy.log").read_text()[-2000:]
        base = f"http://127.0.0.1:{port}"

        assert get(f"{base}/spotify/link?state=s1") == (200, "bot")
        assert get(f"{base}/spotify/callback?code=c&state=s1") == (200, "bot")
        for hidden in ("/healthz", "/", "/spotify/linked", "/spotify/callback/x", "/api/v1"):
            assert get(base + hidden)[0] == 404, hidden
        assert upstream.paths == ["/spotify/link?state=s1", "/spotify/callback?code=c&state=s1"]
    finally:
        caddy.terminate()
        caddy.wait(timeout=15)


def test_an_https_base_url_gets_automatic_certificates_for_its_domain(tmp_path: Path) -> None:
    env = caddy_env(tmp_path, "https://mixtape.example.org", "bot:8765")
    adapted = subprocess.run(
        [str(CADDY), "adapt", "--config", str(CADDYFILE)],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    config = json.loads(adapted.stdout)
    [server] = config["apps"]["http"]["servers"].values()
    assert server["listen"] == [":443"]
    assert [r["match"] for r in server["routes"]] == [[{"host": ["mixtape.example.org"]}]]
    # No explicit TLS policy: Caddy's automatic HTTPS obtains and renews the certificate
    # (and redirects port 80 to 443); nothing turns it off.
    assert "automatic_https" not in server and "tls" not in config["apps"]
    assert "reverse_proxy" in adapted.stdout and "bot:8765" in adapted.stdout
