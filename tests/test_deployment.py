"""What an operator relies on stays true: the compose file runs the pinned engine, and
.env.example documents every setting."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from devtools.stack import REPO_ROOT, pinned_engine_tag
from mixtape.settings import Settings


def test_compose_runs_the_pinned_engine_and_both_processes() -> None:
    compose = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    images = {services[name]["image"] for name in ("hatchet", "hatchet-token")}
    assert images == {f"ghcr.io/hatchet-dev/hatchet/hatchet-lite:{pinned_engine_tag()}"}
    assert "python -m workflows" in " ".join(services["worker"]["command"])
    assert "python -m bot" in " ".join(services["bot"]["command"])


def test_env_example_documents_every_setting() -> None:
    text = (REPO_ROOT / ".env.example").read_text()
    documented = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", text, flags=re.MULTILINE))
    wanted = {name.upper() for name in Settings.model_fields}
    assert wanted - documented == set()


def test_readme_names_the_two_commands() -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    assert "scripts/run" in readme and "scripts/test" in readme
    assert (REPO_ROOT / ".ci" / "run").read_text().strip().endswith("exec scripts/test")
    assert Path(REPO_ROOT / "scripts" / "run").stat().st_mode & 0o111


def test_the_benchmark_command_is_documented() -> None:
    assert "scripts/bench" in (REPO_ROOT / "README.md").read_text()
    assert Path(REPO_ROOT / "scripts" / "bench").stat().st_mode & 0o111
    bench_readme = (REPO_ROOT / "bench" / "README.md").read_text()
    assert "<!-- results:start -->" in bench_readme and "<!-- results:end -->" in bench_readme


def test_compose_has_no_default_password_and_publishes_nothing_but_caddy_openly() -> None:
    text = (REPO_ROOT / "docker-compose.yml").read_text()
    services = yaml.safe_load(text)["services"]
    hatchet = services["hatchet"]["environment"]

    # Every use of the database password requires it; none falls back to a default.
    assert set(re.findall(r"\$\{POSTGRES_PASSWORD(:.)", text)) == {":?"}
    assert "Admin123" not in text and "admin@example.com" not in text
    assert hatchet["ADMIN_EMAIL"].startswith("${HATCHET_ADMIN_EMAIL:?")
    assert hatchet["ADMIN_PASSWORD"].startswith("${HATCHET_ADMIN_PASSWORD:?")
    assert hatchet["SERVER_ALLOW_SIGNUP"] == "false"
    assert "ports" not in services["bot"]  # Caddy reaches it over the compose network
    assert all(
        p.startswith("127.0.0.1:")
        for name, s in services.items()
        if name != "caddy"
        for p in s.get("ports", [])
    )
    example = (REPO_ROOT / ".env.example").read_text()
    for name in ("POSTGRES_PASSWORD", "HATCHET_ADMIN_EMAIL", "HATCHET_ADMIN_PASSWORD"):
        assert re.search(rf"^{name}=$", example, flags=re.MULTILINE), name
