"""Where settings come from: the environment, .env, *_FILE secrets; and `notifier config`."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from notifier.errors import ConfigError
from notifier.ops.environment import gather
from notifier.ops.show_config import print_config
from notifier.settings import load_settings

BASE = {"NOTIFIER_MAIL_FROM": "n@example.org", "NOTIFIER_MODERATORS": "m@example.org"}


def test_a_secret_can_come_from_a_file_without_its_newline(tmp_path: Path) -> None:
    secret = tmp_path / "smtp_password"
    secret.write_text("s3cret\n")
    gathered = gather(
        {**BASE, "NOTIFIER_SMTP_USERNAME": "n", "NOTIFIER_SMTP_PASSWORD_FILE": str(secret)},
        tmp_path,
    )
    assert gathered.problems == []
    settings = load_settings(gathered.values)
    assert settings.smtp_password is not None
    assert settings.smtp_password.get_secret_value() == "s3cret"
    assert gathered.origins["NOTIFIER_SMTP_PASSWORD"] == f"file {secret}"


def test_a_relative_secret_file_is_found_in_systemds_credentials_directory(tmp_path: Path) -> None:
    (tmp_path / "smtp_password").write_text("from-systemd")
    gathered = gather(
        {
            **BASE,
            "NOTIFIER_SMTP_PASSWORD_FILE": "smtp_password",
            "CREDENTIALS_DIRECTORY": str(tmp_path),
        },
        tmp_path,
    )
    assert gathered.values["NOTIFIER_SMTP_PASSWORD"] == "from-systemd"


def test_both_a_value_and_a_file_or_an_unreadable_file_are_named(tmp_path: Path) -> None:
    gathered = gather(
        {
            **BASE,
            "NOTIFIER_SMTP_PASSWORD": "x",
            "NOTIFIER_SMTP_PASSWORD_FILE": str(tmp_path / "p"),
            "NOTIFIER_WP_APP_PASSWORD_FILE": str(tmp_path / "missing"),
        },
        tmp_path,
    )
    assert any(
        "NOTIFIER_SMTP_PASSWORD and NOTIFIER_SMTP_PASSWORD_FILE" in p for p in gathered.problems
    )
    assert any(
        "NOTIFIER_WP_APP_PASSWORD_FILE: cannot read" in p and "missing" in p
        for p in gathered.problems
    )


def test_dotenv_in_the_working_directory_is_read_and_the_environment_wins(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "NOTIFIER_SITE_NAME='From dotenv'\nNOTIFIER_POLL_INTERVAL=5\nOTHER=ignored\n"
    )
    gathered = gather({**BASE, "NOTIFIER_POLL_INTERVAL": "7"}, tmp_path)
    settings = load_settings(gathered.values)
    assert settings.site_name == "From dotenv" and settings.poll_interval == 7
    assert gathered.origins["NOTIFIER_SITE_NAME"] == ".env"
    assert gathered.origins["NOTIFIER_POLL_INTERVAL"] == "env"
    assert "OTHER" not in gathered.values


def test_config_prints_every_setting_with_secrets_masked_and_origins(tmp_path: Path) -> None:
    gathered = gather(
        {
            **BASE,
            "NOTIFIER_SMTP_USERNAME": "notifier",
            "NOTIFIER_SMTP_PASSWORD": "Hunter2-secret",
            "NOTIFIER_STATE_URL": "postgresql://notifier:pg-Secret@db.example.org/notifier",
        },
        tmp_path,
    )
    out = io.StringIO()
    print_config(load_settings(gathered.values), gathered.origins, out)
    text = out.getvalue()
    assert "Hunter2-secret" not in text and "pg-Secret" not in text
    assert "NOTIFIER_SMTP_PASSWORD=********" in text
    assert "NOTIFIER_POLL_INTERVAL=60" in text and "# default" in text
    assert "# env" in text


def test_an_unknown_file_variable_is_an_unknown_variable() -> None:
    gathered = gather({**BASE, "NOTIFIER_SITE_NAME_FILE": "/nonexistent"}, Path("/nonexistent"))
    with pytest.raises(ConfigError, match="NOTIFIER_SITE_NAME_FILE: unknown variable"):
        load_settings(gathered.values)
