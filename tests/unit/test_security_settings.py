"""Settings the security review asked for: https for REST, caps, retention."""

from __future__ import annotations

import pytest

from notifier.errors import ConfigError
from notifier.settings import load_settings

BASE = {
    "NOTIFIER_MAIL_FROM": "notifier@blog.example.org",
    "NOTIFIER_MODERATORS": "mods@blog.example.org",
    "NOTIFIER_SOURCE_KIND": "wordpress-rest",
    "NOTIFIER_WP_USERNAME": "admin",
    "NOTIFIER_WP_APP_PASSWORD": "abcd efgh",
}


@pytest.mark.parametrize(
    "url", ["http://blog.example.org", "http://10.0.0.5/", "http://admin:pw@blog.example.org/"]
)
def test_rest_over_plain_http_to_another_host_is_a_configuration_error(url: str) -> None:
    with pytest.raises(ConfigError, match="must be https") as caught:
        load_settings({**BASE, "NOTIFIER_SOURCE_URL": url})
    assert "pw" not in str(caught.value)


@pytest.mark.parametrize(
    "url",
    ["https://blog.example.org", "http://127.0.0.1:8089", "http://localhost/", "http://[::1]/"],
)
def test_rest_over_https_or_to_this_machine_is_accepted(url: str) -> None:
    assert load_settings({**BASE, "NOTIFIER_SOURCE_URL": url}).source_url == url


def test_the_caps_and_retention_have_sensible_defaults() -> None:
    settings = load_settings({**BASE, "NOTIFIER_SOURCE_URL": "https://blog.example.org"})
    assert settings.infoline_max_per_hour == 60
    assert settings.ack_max_per_hour == 30 and settings.ack_max_per_domain_per_hour == 10
    assert settings.retention_days == 90 and settings.max_body_chars == 20_000


def test_a_retention_shorter_than_the_look_back_is_refused() -> None:
    with pytest.raises(ConfigError, match="RETENTION_DAYS"):
        load_settings(
            {
                **BASE,
                "NOTIFIER_SOURCE_URL": "https://blog.example.org",
                "NOTIFIER_RETENTION_DAYS": "0.001",
            }
        )
