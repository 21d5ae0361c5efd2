"""The README tells an operator what is true of Spotify and of running Mixtape for good."""

from __future__ import annotations

from devtools.stack import REPO_ROOT

README = " ".join((REPO_ROOT / "README.md").read_text().split())  # line breaks don't count


def test_spotifys_current_rules_and_what_they_mean_for_a_server() -> None:
    for fact in (
        "since 15 May 2025 only to organisations",
        "Premium",
        "one development client id",
        "at most **5 Spotify accounts**",
        "at most 5 linked members",
        "/waitlist",
    ):
        assert fact in README, fact
    assert "apply for *extended quota mode*" not in README  # no longer open to a bot


def test_the_operators_tasks_are_documented() -> None:
    for step in (
        "PUBLIC_BASE_URL",
        "/spotify/callback",
        "pg_dump",
        "pg_restore",
        "git pull",
        "storage.migrate",
        "http://localhost:8888",
        "Change password",
        "WORKER_REPLICAS",
        "DISCORD_SHARDS",
        "WORKER_DRAIN_SECONDS",
        "/healthz",
    ):
        assert step in README, step
    # the dashboard's login cookie is for localhost: 127.0.0.1 is named only as the pitfall
    assert README.count("http://127.0.0.1:8888") == 1
    assert "at `http://127.0.0.1:8888` a login does not hold" in README
