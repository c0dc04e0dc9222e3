"""All configuration, read from ``NOTIFIER_*`` environment variables in one place.

``load_settings(environ)`` takes the environment as a mapping, so tests pass a
plain dict.  Every problem is collected and reported at once: an operator fixes
the whole configuration in one go instead of one variable per restart.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from email.headerregistry import Address
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BeforeValidator,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from notifier.db import parse_url
from notifier.errors import ConfigError
from notifier.flow.schedule import DailyDigest, parse_digest_only, zone
from notifier.mail.addresses import parse_address
from notifier.ops.address import parse_address as parse_http_address
from notifier.triage import DEFAULT_THRESHOLD

PREFIX = "NOTIFIER_"


def _address(value: Any) -> Address:
    if isinstance(value, Address):
        return value
    if not isinstance(value, str):
        raise ValueError("must be an email address")
    return parse_address(value)


def _address_list(value: Any) -> list[Address]:
    if isinstance(value, list):
        return [_address(v) for v in value]
    if not isinstance(value, str):
        raise ValueError("must be a comma-separated list of email addresses")
    parts = [p.strip() for p in value.split(",") if p.strip()]
    if not parts:
        raise ValueError("must name at least one email address")
    bad = []
    addresses = []
    for part in parts:
        try:
            addresses.append(parse_address(part))
        except ValueError:
            bad.append(part)
    if bad:
        raise ValueError("not email addresses: " + ", ".join(repr(b) for b in bad))
    return addresses


def _word_list(value: Any) -> Any:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


def _blank_is_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


MailAddress = Annotated[Address, BeforeValidator(_address)]
MailAddressList = Annotated[list[Address], BeforeValidator(_address_list)]


class Settings(BaseSettings):
    """The service's settings; field ``foo_bar`` is the variable ``NOTIFIER_FOO_BAR``."""

    model_config = SettingsConfigDict(
        extra="forbid", frozen=True, arbitrary_types_allowed=True, validate_default=True
    )

    # The comment store and the state store
    source_url: str = "sqlite:///comments.db"
    source_kind: Literal["native", "wordpress", "wordpress-rest"] = "native"
    state_url: str = "sqlite:///notifier-state.db"
    start_from: Literal["now", "beginning"] = "now"
    poll_interval: float = Field(default=60.0, gt=0)
    batch_size: int = Field(default=500, ge=1, le=10_000)
    # How long a gap in the ids (a comment whose transaction had not committed
    # when we read past it) is looked at again before it is given up.
    lookback_seconds: float = Field(default=600.0, ge=0)
    # A poll that takes longer is abandoned (and retried next time), so delivery goes on.
    source_timeout: float = Field(default=120.0, gt=0)

    # WordPress (NOTIFIER_SOURCE_KIND=wordpress or wordpress-rest)
    site_url: Annotated[str | None, BeforeValidator(_blank_is_none)] = None
    wp_table_prefix: str = Field(default="wp_", pattern=r"^[A-Za-z0-9_]+$")
    wp_comment_types: Annotated[list[str], BeforeValidator(_word_list)] = ["comment"]
    wp_flag_meta_keys: Annotated[list[str], BeforeValidator(_word_list)] = []
    wp_flag_threshold: int = Field(default=1, ge=1)
    wp_medical_meta_key: str = Field(default="notifier_medical_question", min_length=1)
    # Comments moved from approved back to pending are noticed for this long
    # after they were first seen (sources that can report statuses: WordPress).
    hold_watch_days: float = Field(default=14.0, ge=0)
    wp_username: Annotated[str | None, BeforeValidator(_blank_is_none)] = None
    wp_app_password: Annotated[SecretStr | None, BeforeValidator(_blank_is_none)] = None

    # SMTP
    smtp_host: str = Field(default="localhost", min_length=1)
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: Annotated[str | None, BeforeValidator(_blank_is_none)] = None
    smtp_password: Annotated[SecretStr | None, BeforeValidator(_blank_is_none)] = None
    smtp_tls: Literal["starttls", "tls", "none"] = "starttls"
    smtp_timeout: float = Field(default=30.0, gt=0)
    smtp_connections: int = Field(default=4, ge=1, le=32)
    # Messages one connection may send before the earlier ones are recorded as
    # sent: what a crash can make it send twice.  1 records each before the next.
    mark_window: int = Field(default=8, ge=1, le=100)
    smtp_max_per_minute: Annotated[int | None, BeforeValidator(_blank_is_none)] = Field(
        default=None, ge=1
    )
    send_timeout: float = Field(default=120.0, gt=0)

    # Who hears about what
    mail_from: MailAddress
    moderators: MailAddressList
    infoline_address: Annotated[MailAddress | None, BeforeValidator(_blank_is_none)] = None

    # Floods: once more than digest_after notifications went to one moderator
    # within digest_window seconds, the rest wait for one digest at its end.
    digest_after: int = Field(default=5, ge=1)
    digest_window: float = Field(default=600.0, gt=0)
    # The zone of NOTIFIER_DIGEST_ONLY's times when an entry names none
    # (declared before digest_only: its validator reads it).
    timezone: str = "UTC"
    # Moderators who want one digest a day instead: "ADDRESS HH:MM [ZONE], ...".
    digest_only: list[DailyDigest] = []
    # Pending comments and flags nobody acted on for this long get one reminder (0: none).
    remind_after: float = Field(default=86400.0, ge=0)

    # Delivery policy
    retry_base_seconds: float = Field(default=30.0, gt=0)
    retry_cap_seconds: float = Field(default=1800.0, gt=0)
    give_up_after_seconds: float = Field(default=2 * 86400.0, gt=0)
    # ...and only after this many tries, so that after a long outage the first
    # temporary refusal does not kill every message that waited through it.
    give_up_after_attempts: int = Field(default=5, ge=1)
    # A claim is renewed by its worker's heartbeat (every WORKER_TIMEOUT / 5 s);
    # a worker silent for WORKER_TIMEOUT is taken as dead and its claims go to
    # the others.  The lease is the backstop for a worker that never beat.
    # 10 s, not 15: noticing a death costs the timeout less the last heartbeat's
    # age, and a killed worker's mail is to be out within 15 s of the kill.
    lease_seconds: float = Field(default=60.0, gt=0)
    worker_timeout: float = Field(default=10.0, ge=1)
    shutdown_timeout: float = Field(default=30.0, ge=0)

    # Triage: find medical questions nobody flagged.  "flag" only marks the
    # moderators' email; "forward" also sends the question to the InfoLine.
    triage: Literal["off", "flag", "forward"] = "forward"
    triage_threshold: float = Field(default=DEFAULT_THRESHOLD, ge=0, le=1)
    ack_commenter: bool = False
    # Caps on what strangers can make us send (state.caps): acknowledgements over
    # a cap are dropped; InfoLine forwards over theirs wait, in order.
    ack_max_per_domain_per_hour: int = Field(default=10, ge=1)
    ack_max_per_hour: int = Field(default=30, ge=1)
    infoline_max_per_hour: int = Field(default=60, ge=1)

    # Hostile input: every commenter-written field is cut when it is read (names,
    # addresses, titles, notes and URLs to a few hundred characters, bodies to this).
    max_body_chars: int = Field(default=20_000, ge=1000, le=1_000_000)
    rest_max_response_bytes: int = Field(default=16_000_000, ge=100_000)
    # Sent and dead messages (which hold commenters' addresses and questions) are
    # deleted this many days after they were last touched.
    retention_days: float = Field(default=90.0, gt=0)

    # Presentation
    templates_dir: Annotated[Path | None, BeforeValidator(_blank_is_none)] = None
    site_name: str = Field(default="the blog", min_length=1)
    # What moderators' email may carry: everything, a short excerpt, or only the
    # post, counts and links (for moderators who read mail at third-party providers).
    moderator_mail: Literal["full", "excerpt", "minimal"] = "full"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["text", "json"] = "text"

    # Operations: /metrics and /healthz over HTTP (off unless an address is given)
    http_address: Annotated[str | None, BeforeValidator(_blank_is_none)] = None
    # /healthz turns 503 once polls, delivery or the relay have failed this long.
    health_fail_after_seconds: float = Field(default=600.0, gt=0)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Only what load_settings() passes in: the environment is read in one place.
        return (init_settings,)

    @field_validator("state_url")
    @classmethod
    def _state_is_sqlite_or_postgres(cls, value: str) -> str:
        if parse_url(value).get_backend_name() not in ("sqlite", "postgresql"):
            raise ValueError("the state store must be SQLite or PostgreSQL")
        return value

    @field_validator("templates_dir")
    @classmethod
    def _templates_dir_exists(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_dir():
            raise ValueError(f"{str(value)!r} is not a directory")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        zone(value)
        return value

    @field_validator("digest_only", mode="before")
    @classmethod
    def _daily_digests(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, str):
            return parse_digest_only(value, info.data.get("timezone", "UTC"))
        return value

    @field_validator("http_address")
    @classmethod
    def _host_and_port(cls, value: str | None) -> str | None:
        if value is not None:
            parse_http_address(value)
        return value

    @field_validator("log_level", "log_format", mode="before")
    @classmethod
    def _case(cls, value: Any, info: ValidationInfo) -> Any:
        if not isinstance(value, str):
            return value
        return value.upper() if info.field_name == "log_level" else value.lower()

    @property
    def link_site_url(self) -> str | None:
        """The site emails may link to: NOTIFIER_SITE_URL, else the REST source's site."""
        if self.site_url is None and self.source_kind == "wordpress-rest":
            return self.source_url
        return self.site_url

    @property
    def forwarding_enabled(self) -> bool:
        return self.infoline_address is not None


def _variable(loc: tuple[int | str, ...]) -> str:
    return PREFIX + str(loc[0]).upper() if loc else "settings"


def _cross_checks(values: Mapping[str, str]) -> list[str]:
    """Rules that tie variables together, checked on the raw values.

    They run even when single variables are bad, so one message lists everything.
    """
    problems = []

    def given(name: str) -> bool:
        return bool(values.get(name, "").strip())

    kind = values.get("source_kind", "native").strip()
    source_url = values.get("source_url", "sqlite:///comments.db")
    if kind == "wordpress-rest":
        if not source_url.startswith(("http://", "https://")):
            problems.append(f"{PREFIX}SOURCE_URL: must be the site's http(s) base URL")
        elif source_url.startswith("http://") and not _is_loopback(source_url):
            problems.append(
                f"{PREFIX}SOURCE_URL: must be https:// (http would send the application "
                "password in clear; plain http is for a site on this machine only)"
            )
        if not (given("wp_username") and given("wp_app_password")):
            problems.append(
                f"{PREFIX}WP_USERNAME and {PREFIX}WP_APP_PASSWORD: both are required "
                "with NOTIFIER_SOURCE_KIND=wordpress-rest"
            )
    else:
        try:
            parse_url(source_url)
        except ValueError as exc:
            problems.append(f"{PREFIX}SOURCE_URL: {exc}")
    if kind == "wordpress" and not given("site_url"):
        problems.append(f"{PREFIX}SITE_URL: required with NOTIFIER_SOURCE_KIND=wordpress")
    if given("smtp_username") != given("smtp_password"):
        problems.append(f"{PREFIX}SMTP_USERNAME and {PREFIX}SMTP_PASSWORD: set both or neither")
    return problems


# Commands that send no mail (init-source, preview) need no mail settings.
_NO_MAIL_PLACEHOLDERS = {
    "mail_from": "notifier@example.org",
    "moderators": "moderators@example.org",
}


def load_settings(environ: Mapping[str, str], *, mail_required: bool = True) -> Settings:
    """Build Settings from ``NOTIFIER_*`` entries of ``environ``, or raise ConfigError.

    The error lists every bad, missing or unknown variable, one per line, and
    never repeats a secret's value.
    """
    values = {
        key[len(PREFIX) :].lower(): value
        for key, value in environ.items()
        if key.startswith(PREFIX)
    }
    if not mail_required:
        values = {**_NO_MAIL_PLACEHOLDERS, **values}
    problems = _cross_checks(values)
    try:
        settings = Settings.model_validate(values)
    except ValidationError as exc:
        for err in exc.errors(include_input=False, include_url=False):
            loc = err.get("loc", ())
            kind = err.get("type", "")
            message = err.get("msg", "invalid")
            if kind == "missing":
                problems.append(f"{_variable(loc)}: required but not set")
            elif kind == "extra_forbidden":
                problems.append(f"{_variable(loc)}: unknown variable (a typo?)")
            elif not loc:
                problems.append(message.removeprefix("Value error, "))
            else:
                problems.append(f"{_variable(loc)}: {message.removeprefix('Value error, ')}")
    else:
        problems.extend(_consistency(settings))
    if problems:
        raise ConfigError(sorted(problems))
    return settings


_LOOPBACK = ("localhost", "127.0.0.1", "::1")


def _is_loopback(url: str) -> bool:
    """True if ``url``'s host is this machine (localhost, 127.0.0.0/8, ::1)."""
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return False
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _consistency(s: Settings) -> list[str]:
    """Values that are each valid but do not work together."""
    problems = []
    if s.smtp_timeout >= s.send_timeout:
        problems.append(
            f"{PREFIX}SMTP_TIMEOUT ({s.smtp_timeout:g}) must be below {PREFIX}SEND_TIMEOUT "
            f"({s.send_timeout:g}): an unreachable server would be charged as a failed send"
        )
    if s.lease_seconds < s.worker_timeout:
        problems.append(
            f"{PREFIX}LEASE_SECONDS ({s.lease_seconds:g}) must be at least "
            f"{PREFIX}WORKER_TIMEOUT ({s.worker_timeout:g}): heartbeats renew the lease "
            "every fifth of the timeout, and a lease that ran out between them would let "
            "another worker send a message still being sent"
        )
    moderators = {m.addr_spec.lower() for m in s.moderators}
    strangers = [d.address for d in s.digest_only if d.address not in moderators]
    if strangers:
        problems.append(
            f"{PREFIX}DIGEST_ONLY: not in {PREFIX}MODERATORS: {', '.join(strangers)} "
            "(a daily digest is a way for a moderator to get the same mail)"
        )
    if s.retention_days * 86400 <= s.lookback_seconds:
        problems.append(
            f"{PREFIX}RETENTION_DAYS ({s.retention_days:g}) must be longer than "
            f"{PREFIX}LOOKBACK_SECONDS: a sent message's record is what keeps a comment "
            "read again from being mailed twice"
        )
    if s.smtp_tls == "none" and s.smtp_password is not None and s.smtp_host not in _LOOPBACK:
        problems.append(
            f"{PREFIX}SMTP_TLS=none would send the SMTP password in clear to "
            f"{s.smtp_host}: use starttls or tls (none is for a relay on this machine)"
        )
    return problems
