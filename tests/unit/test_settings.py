"""Configuration: every problem named at once; secrets never repeated."""

from __future__ import annotations

import pytest

from notifier.db import safe_url
from notifier.errors import ConfigError
from notifier.settings import load_settings

REQUIRED = {"NOTIFIER_MAIL_FROM": "n@example.org", "NOTIFIER_MODERATORS": "m@example.org"}


def problems(**env: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load_settings({**REQUIRED, **{f"NOTIFIER_{k.upper()}": v for k, v in env.items()}})
    return str(caught.value)


def test_defaults_need_only_a_sender_and_moderators() -> None:
    settings = load_settings(REQUIRED)
    assert (settings.smtp_tls, settings.smtp_connections, settings.triage) == (
        "starttls",
        4,
        "forward",
    )


def test_timeouts_and_leases_that_cannot_work_together_are_refused() -> None:
    message = problems(smtp_timeout="200", send_timeout="120", lease_seconds="5")
    assert "NOTIFIER_SMTP_TIMEOUT (200) must be below NOTIFIER_SEND_TIMEOUT" in message
    assert "NOTIFIER_LEASE_SECONDS (5) must be at least NOTIFIER_WORKER_TIMEOUT (10)" in message


def test_a_password_is_never_sent_in_clear_to_another_machine() -> None:
    message = problems(
        smtp_tls="none",
        smtp_host="mail.example.org",
        smtp_username="notifier",
        smtp_password="s3cret-pw",
    )
    assert "would send the SMTP password in clear" in message
    assert "s3cret-pw" not in message
    # To a relay on this machine it is allowed.
    load_settings(
        {
            **REQUIRED,
            "NOTIFIER_SMTP_TLS": "none",
            "NOTIFIER_SMTP_HOST": "127.0.0.1",
            "NOTIFIER_SMTP_USERNAME": "notifier",
            "NOTIFIER_SMTP_PASSWORD": "s3cret-pw",
        }
    )


def test_a_password_in_a_database_url_is_hidden_wherever_it_is() -> None:
    assert "s3cret" not in safe_url("postgresql://u:s3cret@db/x")
    shown = safe_url("postgresql://u@db/x?password=s3cret&sslmode=require")
    assert "s3cret" not in shown and "sslmode=require" in shown
