"""`python -m devtools.stack exec` stops everything it started on SIGTERM, SIGINT or SIGHUP.

Before, only Ctrl-C unwound it: a SIGTERM (a CI runner's or a supervisor's stop) or a
SIGHUP (a closed terminal) killed the launcher at once and left its PostgreSQL cluster,
the engine and the child command running.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import make_url

from devtools.stack import REPO_ROOT
from tests.deploy.processes import alive, descendants, port_open, wait_for

pytestmark = pytest.mark.engine(own_stack=True)  # starts a stack of its own

CHILD = """
import json, os, sys, time
with open(sys.argv[1] + ".tmp", "w") as out:
    json.dump({"pid": os.getpid(), "pg": os.environ["MIXTAPE_TEST_PG_URL"],
               "api": os.environ["MIXTAPE_HATCHET_API_URL"]}, out)
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
time.sleep(600)
"""


@pytest.mark.parametrize(
    "signum", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP], ids=lambda s: signal.Signals(s).name
)
def test_a_stop_signal_leaves_nothing_running(signum: int, tmp_path: Path) -> None:
    marker = tmp_path / "child.json"
    with (tmp_path / "stack.log").open("wb") as log:
        stack = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "devtools.stack",
                "exec",
                "--",
                sys.executable,
                "-c",
                CHILD,
                str(marker),
            ],
            cwd=REPO_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        wait_for(lambda: marker.exists() or stack.poll() is not None, 240, "the child to start")
        assert stack.poll() is None, (tmp_path / "stack.log").read_text()[-3000:]
        child = json.loads(marker.read_text())
        ports = {
            "PostgreSQL": int(make_url(child["pg"]).port or 0),
            "the engine's API": int(urlsplit(child["api"]).port or 0),
        }
        started = descendants(stack.pid)
        assert child["pid"] in started and all(port_open(p) for p in ports.values())

        stack.send_signal(signum)
        sent = time.monotonic()
        code = stack.wait(timeout=90)
        took = time.monotonic() - sent

        log_text = (tmp_path / "stack.log").read_text()
        left = {pid for pid in started if alive(pid)}
        assert left == set(), (left, log_text[-3000:])
        assert {name for name, port in ports.items() if port_open(port)} == set()
        assert code == 128 + signum, log_text[-3000:]
        assert took < 60, took
    finally:
        if stack.poll() is None:
            stack.kill()
            stack.wait()
