"""docker-compose.yml is valid Compose and runs for good: schema, one-shots, health, stops,
logs, replicas, the HTTPS front door.

Validated with the Compose Specification's own JSON schema (vendored in
deploy/compose-spec/), as written and after interpolation with a filled `.env`.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from devtools.stack import CADDY_VERSION, REPO_ROOT, pinned_engine_tag
from mixtape.settings import Settings
from tests.deploy.compose import (
    SCHEMA_FILE,
    MissingVariable,
    load_compose,
    read_dotenv,
    resolve,
    service_env,
)

FILLED = {
    "POSTGRES_PASSWORD": "0123456789abcdef",
    "HATCHET_ADMIN_EMAIL": "ops@example.org",
    "HATCHET_ADMIN_PASSWORD": "Operator123",
    "PUBLIC_BASE_URL": "https://mixtape.example.org",
}
ONE_SHOTS = {"hatchet-token", "migrate"}


def seconds(duration: str) -> float:
    """A compose duration ('1m30s', '40s') in seconds."""
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|h|m|s)", duration)
    assert "".join(n + u for n, u in parts) == duration, duration
    return sum(float(n) * units[u] for n, u in parts)


@pytest.fixture
def dotenv(tmp_path: Path) -> dict[str, str]:
    """A copied .env.example with the four values compose requires filled in."""
    shutil.copy(REPO_ROOT / ".env.example", tmp_path / ".env")
    return {**read_dotenv(tmp_path / ".env"), **FILLED}


@pytest.fixture
def compose(dotenv: dict[str, str]) -> dict[str, Any]:
    resolved: dict[str, Any] = resolve(load_compose(), dotenv)
    return resolved


def test_the_file_is_valid_compose_as_written_and_as_interpolated(
    compose: dict[str, Any],
) -> None:
    validator = jsonschema.Draft7Validator(json.loads(SCHEMA_FILE.read_text()))
    for document in (load_compose(), compose):
        errors = [
            f"{'/'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(document)
        ]
        assert errors == []
    broken = {
        **compose,
        "services": {
            **compose["services"],
            "bot": {**compose["services"]["bot"], "stop_grace_period": 15},
        },
    }
    assert not validator.is_valid(broken)  # the schema is live: a number is no duration


def test_compose_refuses_to_start_without_the_required_values(tmp_path: Path) -> None:
    shutil.copy(REPO_ROOT / ".env.example", tmp_path / ".env")
    plain = read_dotenv(tmp_path / ".env")
    for name in FILLED:
        with pytest.raises(MissingVariable, match=name):
            resolve(load_compose(), {**plain, **FILLED, name: ""})


def test_every_service_restarts_stops_cleanly_says_if_healthy_and_rotates_logs(
    compose: dict[str, Any],
) -> None:
    for name, service in compose["services"].items():
        logging = service["logging"]
        assert logging["driver"] == "json-file", name
        assert logging["options"]["max-size"] and int(logging["options"]["max-file"]) >= 2
        if name in ONE_SHOTS:
            assert service["restart"] == "no", name
            continue
        assert service["restart"] == "unless-stopped", name
        assert service["init"] is True, name
        assert seconds(service["stop_grace_period"]) >= 10, name
        assert service["healthcheck"]["test"], name


def test_the_token_is_minted_on_every_start_for_years(compose: dict[str, Any]) -> None:
    token = compose["services"]["hatchet-token"]
    command = " ".join(token["command"])
    assert "[ -s" not in command  # no reuse of a token an earlier start minted
    lifetime = re.search(r"--expiresIn (\d+)h", command)
    assert lifetime and int(lifetime[1]) >= 5 * 365 * 24
    assert token["image"] == compose["services"]["hatchet"]["image"]
    assert compose["services"]["hatchet"]["image"].endswith(f":{pinned_engine_tag()}")
    # Its claims come from the engine's own settings.
    engine = compose["services"]["hatchet"]["environment"]
    assert {k: v for k, v in engine.items() if k in token["environment"]} == token["environment"]


def test_bot_and_workers_start_after_the_token_and_the_migrations(
    compose: dict[str, Any],
    dotenv: dict[str, str],
) -> None:
    services = compose["services"]
    assert services["migrate"]["command"] == ["python", "-m", "storage.migrate"]
    for name in ("bot", "worker"):
        depends = services[name]["depends_on"]
        for one_shot in ONE_SHOTS:
            assert depends[one_shot]["condition"] == "service_completed_successfully"
        env = service_env(compose, name, dotenv)
        # REST calls (/cancel, a stopping worker's pause) reach the engine's service.
        assert env["HATCHET_CLIENT_SERVER_URL"] == "http://hatchet:8888"
        assert env["HATCHET_CLIENT_HOST_PORT"] == "hatchet:7070"
        assert "@postgres:5432/mixtape" in env["DATABASE_URL"]
        assert services[name]["image"] == services["migrate"]["image"]
    assert "127.0.0.1:8888:8888" in services["hatchet"]["ports"]


def test_health_checks_probe_the_bot_and_the_worker_where_they_listen(
    compose: dict[str, Any],
    dotenv: dict[str, str],
) -> None:
    bot, worker = (service_env(compose, n, dotenv) for n in ("bot", "worker"))
    bot_check = compose["services"]["bot"]["healthcheck"]["test"]
    worker_check = compose["services"]["worker"]["healthcheck"]["test"]
    assert bot_check[-1] == f"http://127.0.0.1:{bot['OAUTH_BIND_PORT']}/healthz"
    assert worker["HATCHET_CLIENT_WORKER_HEALTHCHECK_ENABLED"] == "true"
    assert worker_check[-1] == (
        f"http://127.0.0.1:{worker['HATCHET_CLIENT_WORKER_HEALTHCHECK_PORT']}/health"
    )
    assert bot_check[1:4] == worker_check[1:4] == ["python", "-m", "mixtape.probe"]


def test_workers_run_as_replicas_and_drain_within_their_grace(
    compose: dict[str, Any],
    dotenv: dict[str, str],
) -> None:
    worker = compose["services"]["worker"]
    assert load_compose()["services"]["worker"]["deploy"]["replicas"] == "${WORKER_REPLICAS:-2}"
    assert int(worker["deploy"]["replicas"]) == int(dotenv["WORKER_REPLICAS"])
    assert "container_name" not in worker and "ports" not in worker
    drain = Settings(_env_file=None, **{"worker_drain_seconds": dotenv["WORKER_DRAIN_SECONDS"]})
    assert drain.worker_drain_seconds + 10 <= seconds(worker["stop_grace_period"])


def test_only_the_https_front_door_is_published_beyond_loopback(
    compose: dict[str, Any],
    dotenv: dict[str, str],
) -> None:
    published = {
        (name, port)
        for name, service in compose["services"].items()
        for port in service.get("ports", [])
        if not str(port).startswith("127.0.0.1:")
    }
    assert published == {("caddy", "80:80"), ("caddy", "443:443"), ("caddy", "443:443/udp")}
    caddy = compose["services"]["caddy"]
    assert "./deploy/Caddyfile:/etc/caddy/Caddyfile:ro" in caddy["volumes"]
    assert caddy["environment"]["PUBLIC_BASE_URL"] == FILLED["PUBLIC_BASE_URL"]
    assert caddy["image"] == "caddy:" + ".".join(CADDY_VERSION.lstrip("v").split(".")[:2])
    bot = service_env(compose, "bot", dotenv)
    assert bot["PUBLIC_BASE_URL"] == FILLED["PUBLIC_BASE_URL"]
    settings = Settings(
        _env_file=None,
        public_base_url=bot["PUBLIC_BASE_URL"],
        **(
            {"spotify_redirect_uri": bot["SPOTIFY_REDIRECT_URI"]}
            if bot["SPOTIFY_REDIRECT_URI"]
            else {}
        ),
    )
    assert settings.spotify_redirect_uri == "https://mixtape.example.org/spotify/callback"
