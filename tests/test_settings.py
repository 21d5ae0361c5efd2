"""Settings as operators write them: a copy of `.env.example` must load as documented."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mixtape.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def copied_env_example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """`cp .env.example .env` in a fresh folder, with no setting in the environment."""
    shutil.copy(REPO_ROOT / ".env.example", tmp_path / ".env")
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path / ".env"


def test_a_copied_env_example_counts_its_placeholders_as_unset(copied_env_example: Path) -> None:
    settings = Settings()

    # scripts/run decides on these two: no token means the offline demo, no Hatchet token
    # means the local engine. Empty placeholders must not read as configured.
    assert settings.discord_token is None
    assert settings.hatchet_client_token is None
    assert settings.spotify_client_id is None and settings.spotify_client_secret is None
    assert settings.token_encryption_keys is None
    assert settings.discord_api_base is None and settings.discord_gateway_url is None
    assert settings.database_url == "sqlite+aiosqlite:///.data/mixtape.db"


def test_a_filled_in_value_is_read(copied_env_example: Path) -> None:
    text = copied_env_example.read_text().replace("DISCORD_TOKEN=\n", "DISCORD_TOKEN=abc\n")
    copied_env_example.write_text(text)

    token = Settings().discord_token
    assert token is not None and token.get_secret_value() == "abc"


def test_every_setting_is_documented_in_env_example() -> None:
    documented = (REPO_ROOT / ".env.example").read_text()
    missing = [name.upper() for name in Settings.model_fields if name.upper() not in documented]
    assert missing == []
