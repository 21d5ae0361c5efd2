"""The Hatchet dashboard of the local stack, in a real browser.

Debian's Chromium (installed on first use; nothing downloads a browser), driven by Playwright,
logs in as the stack's seeded admin, filters the runs list by the guild and member metadata
the bot puts on every run (bot/dispatch.py), finds the demo's import there with its
import_id, and opens it to see its child runs. Screenshots stay in the test's tmp dir.
Without a dashboard build the rest still works, and a failed build is not retried each run.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import urllib.parse
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hatchet_sdk.token import extract_claims_from_jwt
from playwright.sync_api import Page, Route, expect, sync_playwright

from devtools import dashboard as dashboard_build
from devtools.dashboard import BUILD_LOG, runs_url
from devtools.stack import REPO_ROOT
from fakes.transcript_browser import chromium as system_chromium
from workflows.client import create_hatchet
from workflows.contracts import IMPORT_PLAYLIST, SHARE_PLAYLIST

_OUR_SETTINGS = ("DISCORD_", "SPOTIFY_", "TOKEN_ENCRYPTION_KEYS", "DATABASE_URL")
_FILTERS_PARAM = "workflow-runs-main-workflow-runs-filters"  # the runs page's own URL state
_UI_TIMEOUT_MS = 30_000


@pytest.mark.engine
def test_an_operator_finds_the_demo_import_by_guild_and_member(
    stack_env: dict[str, str], tmp_path: Path
) -> None:
    dashboard = stack_env.get("MIXTAPE_HATCHET_DASHBOARD_URL")
    assert dashboard, f"the local stack serves no dashboard: see {BUILD_LOG}"
    chromium = system_chromium()
    since = datetime.now(UTC) - timedelta(seconds=5)
    _play_demo(stack_env)
    run_id, metadata, children = _import_run(since)
    tenant = extract_claims_from_jwt(stack_env["HATCHET_CLIENT_TOKEN"]).sub
    wanted = {key: metadata[key] for key in ("guild_id", "user_id", "import_id")}

    expect.set_options(timeout=_UI_TIMEOUT_MS)  # a loaded 2-core machine renders slowly
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium)
        page = browser.new_page(viewport={"width": 1600, "height": 1300})
        try:
            page.set_default_timeout(_UI_TIMEOUT_MS)
            page.route("**/*", _loopback_only)
            _log_in(page, dashboard, stack_env)

            # The operator's filter: this guild and this member (as the UI writes it).
            filters = {"m": [f"guild_id:{wanted['guild_id']}", f"user_id:{wanted['user_id']}"]}
            page.goto(
                f"{runs_url(dashboard, tenant)}?"
                + urllib.parse.urlencode({_FILTERS_PARAM: json.dumps(filters)})
            )
            rows = page.get_by_role("row").filter(has_text=IMPORT_PLAYLIST)
            link = page.locator(f'a[href$="/runs/{run_id}"]')
            expect(link).to_have_count(1)
            expect(rows).to_have_count(1)
            # Ada's share ran in the same guild: the member filter leaves it out.
            expect(page.get_by_role("row").filter(has_text=SHARE_PLAYLIST)).to_have_count(0)
            row = rows.first
            expect(row).to_contain_text("Succeeded")

            # Its metadata, as the row's tag popover lists it.
            row.get_by_text(str(len(metadata)), exact=True).click()
            popover = page.get_by_role("dialog")
            for key, value in wanted.items():
                expect(popover).to_contain_text(key)
                expect(popover).to_contain_text(value)
            page.screenshot(path=tmp_path / "dashboard-runs-by-guild-and-member.png")
            page.keyboard.press("Escape")

            # The run itself, with the child runs the import spawned.
            link.click()
            page.wait_for_url(f"**/runs/{run_id}**")
            page.get_by_role("tab", name=re.compile(r"^Children")).click()
            panel = page.get_by_role("tabpanel", name=re.compile(r"^Children"))
            rows = panel.get_by_role("row").filter(has_text=re.compile(r"import-"))
            expect(rows).to_have_count(len(children))
            # A first import into a target it created needs no reconcile read.
            for child in ("import-prepare", "import-add-batch"):
                expect(rows.filter(has_text=child).first).to_be_visible()
            page.screenshot(path=tmp_path / "dashboard-import-run-children.png")
        finally:
            page.screenshot(path=tmp_path / "dashboard-last.png")  # where a failure stopped
            browser.close()
    print(f"screenshots in {tmp_path}")


def test_a_failed_build_is_said_once_remembered_and_never_fatal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without the registry the bootstrap goes on (the stack serves its placeholder), and
    later runs do not spend minutes failing again."""
    tries: list[str] = []

    def failing_build(tag: str) -> Path:
        tries.append(tag)
        raise subprocess.CalledProcessError(1, ["npx", "pnpm", "install"])

    monkeypatch.setattr(dashboard_build, "DASHBOARD_DIR", tmp_path)
    monkeypatch.setattr(dashboard_build, "build", failing_build)
    monkeypatch.setattr(shutil, "which", lambda name: f"/usr/bin/{name}")  # Node is there
    assert dashboard_build.ensure("v0.0.0-test") == 0
    assert dashboard_build.ensure("v0.0.0-test") == 0
    assert tries == ["v0.0.0-test"]
    assert "npx" in (tmp_path / "v0.0.0-test.failed").read_text()
    assert f"To retry: rm {tmp_path / 'v0.0.0-test.failed'}" in capsys.readouterr().err


def _play_demo(stack_env: dict[str, str]) -> None:
    """The README's run command, offline, against the session's engine: its import is the run
    an operator looks for."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_OUR_SETTINGS)}
    done = subprocess.run(
        [sys.executable, "-m", "devtools"],
        cwd=REPO_ROOT,
        env={**env, **stack_env},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,  # a hang guard
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-3000:]


def _import_run(since: datetime) -> tuple[str, dict[str, str], list[str]]:
    """The demo's import run, its metadata and its children's names, from the engine's API."""
    runs = create_hatchet().runs
    rows = runs.list(since=since, only_tasks=True, limit=500).rows
    imports = [r for r in rows if r.workflow_name and r.workflow_name.endswith(IMPORT_PLAYLIST)]
    assert len(imports) == 1, [r.workflow_name for r in rows]
    run_id = imports[0].metadata.id
    metadata = {k: str(v) for k, v in (imports[0].additional_metadata or {}).items()}
    # as the run page asks: with only_tasks the engine ignores the parent filter
    children = runs.list(
        since=since, only_tasks=False, limit=500, parent_task_external_id=run_id
    ).rows
    return run_id, metadata, [str(c.workflow_name) for c in children]


def _log_in(page: Page, dashboard: str, stack_env: dict[str, str]) -> None:
    """Through the login form, as an operator does."""
    page.goto(f"{dashboard.rstrip('/')}/auth/login")
    page.fill("#email", stack_env["MIXTAPE_HATCHET_ADMIN_EMAIL"])
    page.fill("#password", stack_env["MIXTAPE_HATCHET_ADMIN_PASSWORD"])
    page.get_by_role("button", name="Sign In").click()
    page.wait_for_url("**/tenants/**")


def _loopback_only(route: Route) -> None:
    """The app also asks for web fonts and telemetry; nothing leaves the machine."""
    if urllib.parse.urlsplit(route.request.url).hostname == "127.0.0.1":
        route.continue_()
    else:
        route.abort()
