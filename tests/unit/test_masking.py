"""Secrets hidden however the URL is written: one function, a test per spelling."""

from __future__ import annotations

import pytest

from notifier.db import safe_url
from notifier.masking import mask_text, mask_url, without_credentials

SECRETS = ("s3cr", "t0p")

SPELLINGS = [
    "postgresql://blog:s3cr@t0p@db.example.org/blog",  # a raw @ in the password
    "postgresql://blog:s3cr/t0p@db.example.org/blog",  # a raw /
    "mysql://blog:s3cr?t0p@db.example.org/blog",  # a raw ?
    "mysql://blog:s3cr#t0p@db.example.org/blog",  # a raw #
    "postgresql://blog:s3cr%40t@db.example.org/blog",  # percent-encoded
    "postgresql://blog@db.example.org/blog?password=s3cr",  # in the query
    "postgresql://blog@db.example.org/blog?sslpassword=s3cr&sslmode=require",
    "https://admin:s3cr@blog.example.org/",  # credentials in the REST URL
    "https://admin:s3cr t0p@blog.example.org/",  # an application password with spaces
    "https://s3cr@blog.example.org/",  # a token as the user name
    "https://blog.example.org/?api_key=s3cr",
    "https://blog.example.org/?access_token=s3cr#s3cr",
]


@pytest.mark.parametrize("url", SPELLINGS)
def test_the_secret_is_hidden_and_the_host_still_shown(url: str) -> None:
    for shown in (mask_url(url), safe_url(url), mask_text(f"cannot reach {url}: refused")):
        assert not any(secret in shown for secret in SECRETS), shown
        assert "example.org" in shown


def test_a_url_without_secrets_is_unchanged() -> None:
    for url in ("sqlite:///var/lib/notifier/state.db", "https://blog.example.org/wp?x=1"):
        assert mask_url(url) == url


def test_the_user_name_is_shown_for_a_password() -> None:
    assert mask_url("mysql://blog:p@ss@db/wp") == "mysql://blog:***@db/wp"


@pytest.mark.parametrize(
    ("url", "bare"),
    [
        ("https://admin:s3cr@blog.example.org/", "https://blog.example.org/"),
        ("https://admin:s3@cr/t@blog.example.org/x", "https://blog.example.org/x"),
        ("https://blog.example.org/?author=a@b.org", "https://blog.example.org/?author=a@b.org"),
    ],
)
def test_credentials_are_removed_from_a_url_used_for_links(url: str, bare: str) -> None:
    assert without_credentials(url) == bare
