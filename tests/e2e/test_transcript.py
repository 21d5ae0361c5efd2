"""The demo's channel as members see it: the offline demo writes an HTML transcript in
Discord's look, and headless Chromium opens it at a desktop and a phone width.

No embed may overflow its box at either width, and every state the demo's messages went
through must show: the share being read and its summary, the import queued, its progress
bar part way, and its final summary (the demo's 429 burst is too short for a "Paused"
edit). Screenshots stay in the test's tmp dir; `MIXTAPE_DOCS_SHOTS=1` also refreshes the
two the README shows (docs/).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from devtools.demo import TRANSCRIPT_ENV
from devtools.stack import REPO_ROOT
from fakes.transcript_browser import DESKTOP, PHONE, Shot, look_at

pytestmark = pytest.mark.engine

_OUR_SETTINGS = ("DISCORD_", "SPOTIFY_", "TOKEN_ENCRYPTION_KEYS", "DATABASE_URL")
DOCS = REPO_ROOT / "docs"


def test_the_demo_transcript_shows_every_state_and_fits_a_phone(
    stack_env: dict[str, str], tmp_path: Path
) -> None:
    transcript = tmp_path / "demo-transcript.html"
    env = {k: v for k, v in os.environ.items() if not k.startswith(_OUR_SETTINGS)}
    done = subprocess.run(
        [sys.executable, "-m", "devtools"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        env={**env, **stack_env, TRANSCRIPT_ENV: str(transcript)},
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-3000:]
    # The demo's last lines name the file.
    tail = done.stdout.rstrip().splitlines()[-4:]
    assert any(str(transcript) in line for line in tail), tail

    shots_dir = DOCS if os.environ.get("MIXTAPE_DOCS_SHOTS") else tmp_path
    in_progress = Shot(
        "Importing Late Night Drive", shots_dir / "import-progress.png", width=PHONE, middle=True
    )
    summary = Shot("Imported Late Night Drive", shots_dir / "import-summary.png", width=PHONE)
    looks = look_at(transcript, tmp_path, widths=(DESKTOP, PHONE), shots=(in_progress, summary))

    for look in looks:
        assert look.screenshot.stat().st_size > 10_000, look.screenshot
        assert look.overflowing == [], (look.width, look.overflowing)
        assert look.page_width <= look.width, (look.width, look.page_width)
        text = look.text
        # The share: read page by page, then its summary in the catalog.
        assert "Reading Late Night Drive" in text
        assert re.search(r"Tracks\s+300", text), "the share's summary"
        # The import: queued, progress part way (the bar and count), then its summary.
        assert "Importing Late Night Drive — queued" in text
        parts = [int(n) for n in re.findall(r"\b(\d{1,3})/300\b", text)]
        assert any(0 < n < 300 for n in parts), parts
        assert text.index("Importing Late Night Drive") < text.index("Imported Late Night Drive")
        assert re.search(r"Added\s+300", text), "the import's summary counts"
        assert "Open the playlist in Spotify" in text
        # Every state of the import's message names its owner and number, stamped.
        states = re.findall(r"Import #\d+ · /(?:cancel|retry) or /imports", text)
        assert len(states) >= 3, states  # queued, part way, summary
        assert text.count("Into @") >= 3, "the owner in every state"
    for shot in (in_progress, summary):
        assert shot.path.stat().st_size > 5_000, shot.path
