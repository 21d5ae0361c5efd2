"""The Hatchet dashboard in the local stack.

The dashboard's web app is not part of the Go build, but its source is in the pinned module
(`frontend/app`) that scripts/bootstrap already downloads for the engine. `build` turns it
into static files once per engine tag under `.stack/dashboard/<tag>`; the stack then points
`LITE_STATIC_ASSET_DIR` there. When the build is missing (failed, or not tried), the stack
serves a one-page placeholder and the run command names the REST API instead.

Usage: `python -m devtools.dashboard ensure` (scripts/bootstrap) builds it unless it is built
or an earlier build for this tag failed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from hatchet_sdk.token import extract_claims_from_jwt

from devtools.stack import DASHBOARD_DIR, STACK_DIR, built_dashboard, log, pinned_engine_tag

BUILD_LOG = STACK_DIR / "dashboard-build.log"
_SCRATCH = STACK_DIR / "dashboard-build"
_MODULE = "github.com/hatchet-dev/hatchet"
_STEP_TIMEOUT_SECONDS = 1200

# `better-emitter@4.0.1` (the app's pin) is not served by the registry reachable here; 3.0.0
# is. Its API covers what `src/lib/global-emitter.ts` uses: a default-export factory whose
# emitter has `on(event, listener) -> unsubscribe` and `emit(event, payload)`, the listener
# getting the payload first. Only its types are looser, and `vite build` does not type-check.
_OVERRIDES = {"better-emitter": "3.0.0"}

_ENGINE_DEFAULT = "the engine's seed default"


def runs_url(dashboard_url: str, tenant_id: str) -> str:
    """The dashboard's run list of a tenant (its router's `tenants/$tenant/runs`)."""
    return f"{dashboard_url.rstrip('/')}/tenants/{tenant_id}/runs"


def describe(env: Mapping[str, str]) -> list[str]:
    """Lines for the run command: the dashboard's runs list and its login, or without a
    dashboard, the REST call that lists the same runs."""
    tenant = extract_claims_from_jwt(env["HATCHET_CLIENT_TOKEN"]).sub
    url = env.get("MIXTAPE_HATCHET_DASHBOARD_URL")
    pad = " " * 21
    if url:
        source = env.get("MIXTAPE_HATCHET_ADMIN_PASSWORD_SOURCE", "")
        if source == _ENGINE_DEFAULT:
            password = f"{env.get('MIXTAPE_HATCHET_ADMIN_PASSWORD')} ({source})"
        elif source == "ADMIN_PASSWORD":
            password = "your ADMIN_PASSWORD"
        else:  # a file the stack wrote
            password = f"in {source}"
        return [
            f"  Hatchet dashboard  {runs_url(url, tenant)}",
            f"{pad}log in as {env.get('MIXTAPE_HATCHET_ADMIN_EMAIL')}, password {password};",
            f"{pad}each run's metadata holds guild_id, user_id (and import_id): filter by them",
        ]
    api = env.get("MIXTAPE_HATCHET_API_URL", "")
    return [
        f"  Hatchet dashboard  not built (see {BUILD_LOG.relative_to(STACK_DIR.parent)});",
        f"{pad}see runs with GET {api}/api/v1/stable/tenants/{tenant}/workflow-runs",
        f"{pad}?since=<ISO time> and the header Authorization: Bearer $HATCHET_CLIENT_TOKEN",
    ]


# -- the build ------------------------------------------------------------------------------


def module_dir(tag: str) -> Path:
    """The pinned module in Go's module cache (downloaded again if the cache was cleaned)."""
    done = subprocess.run(
        ["go", "mod", "download", "-json", f"{_MODULE}@{tag}"],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    if done.returncode != 0:
        raise RuntimeError(f"go mod download {_MODULE}@{tag} failed: {done.stderr[-2000:]}")
    return Path(json.loads(done.stdout)["Dir"])


def _run(argv: list[str], cwd: Path, out: TextIO, env: dict[str, str] | None = None) -> None:
    log(f"dashboard build: {' '.join(argv)}")
    out.flush()
    subprocess.run(
        argv,
        cwd=cwd,
        stdout=out,
        stderr=subprocess.STDOUT,
        env=env,
        check=True,
        timeout=_STEP_TIMEOUT_SECONDS,
    )


def _writable_copy(module: Path, scratch: Path) -> Path:
    """Copy `frontend/` and `sdks/` (the snippet generator reads `../../sdks`) out of the
    read-only module cache; returns the copy's `frontend/app`."""
    shutil.rmtree(scratch, ignore_errors=True)
    for part in ("frontend", "sdks"):
        shutil.copytree(
            module / part,
            scratch / part,
            copy_function=shutil.copyfile,
            ignore=shutil.ignore_patterns("node_modules"),
        )
    for folder, _dirs, _files in os.walk(scratch):
        os.chmod(folder, 0o700)
    return scratch / "frontend" / "app"


def _pin_overrides(app: Path) -> str:
    """Add our pnpm overrides to package.json; returns the pnpm version it names."""
    manifest = app / "package.json"
    data = json.loads(manifest.read_text())
    data.setdefault("pnpm", {}).setdefault("overrides", {}).update(_OVERRIDES)
    manifest.write_text(json.dumps(data, indent=2) + "\n")
    package_manager = str(data["packageManager"])  # e.g. "pnpm@10.16.1"
    if not package_manager.startswith("pnpm@"):
        raise RuntimeError(f"unexpected packageManager {package_manager!r}")
    return package_manager


def build(tag: str) -> Path:
    """Build the dashboard of engine `tag` into `.stack/dashboard/<tag>` and return it."""
    started = time.monotonic()
    DASHBOARD_DIR.mkdir(parents=True, exist_ok=True)
    app = _writable_copy(module_dir(tag), _SCRATCH)
    pnpm = _pin_overrides(app)
    env = {**os.environ, "CYPRESS_INSTALL_BINARY": "0"}  # no browser download
    with BUILD_LOG.open("w") as out:
        # The lockfile names better-emitter 4.0.1, so pnpm must update it for the override.
        _run(["npx", "--yes", pnpm, "install", "--no-frozen-lockfile"], app, out, env)
        _run([sys.executable, "-X", "utf8", "generate.py"], app.parent / "snippets", out)
        _run([str(app / "node_modules" / ".bin" / "vite"), "build"], app, out, env)
    if not (app / "dist" / "index.html").exists():
        raise RuntimeError("vite build wrote no index.html")
    target = DASHBOARD_DIR / tag
    shutil.rmtree(target, ignore_errors=True)
    (app / "dist").rename(target)  # same file system: the finished build appears at once
    (target / ".complete").write_text(f"built in {time.monotonic() - started:.0f} s\n")
    shutil.rmtree(_SCRATCH, ignore_errors=True)  # node_modules: pnpm's store keeps the packages
    return target


def ensure(tag: str) -> int:
    """Build unless built; a failure is remembered (and said) so runs do not retry it each time.

    Always returns 0: without the dashboard the stack still works.
    """
    if built_dashboard(tag) is not None:
        return 0
    marker = DASHBOARD_DIR / f"{tag}.failed"
    if marker.exists():
        log(
            f"the Hatchet dashboard {tag} did not build earlier ({marker.read_text().strip()}); "
            f"the stack serves a placeholder. To retry: rm {marker}"
        )
        return 0
    if shutil.which("npx") is None:
        log(
            "npx not found: the Hatchet dashboard is not built (scripts/bootstrap installs "
            "Node from Debian)"
        )
        return 0
    log(f"building the Hatchet dashboard {tag} (first run only: a few minutes)")
    started = time.monotonic()
    try:
        target = build(tag)
    except Exception as exc:  # noqa: BLE001  (the dashboard is optional: say why, go on)
        DASHBOARD_DIR.mkdir(parents=True, exist_ok=True)
        marker.write_text(f"{type(exc).__name__}: {exc}; log in {BUILD_LOG}\n")
        tail = BUILD_LOG.read_text(errors="replace")[-3000:] if BUILD_LOG.exists() else ""
        log(
            f"{tail}\nthe Hatchet dashboard did not build ({exc}); the stack serves a "
            f"placeholder and everything else works. To retry: rm {marker}"
        )
        return 0
    log(f"Hatchet dashboard {tag} built in {time.monotonic() - started:.0f} s: {target}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.dashboard")
    parser.add_argument("command", choices=["ensure"])
    parser.parse_args(argv)
    return ensure(pinned_engine_tag())


if __name__ == "__main__":
    sys.exit(main())
