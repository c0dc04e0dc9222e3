"""Every SMTP failure sorted into one kind, and the retry backoff: pure logic."""

from __future__ import annotations

import ssl

import aiosmtplib
import pytest

from notifier.delivery.deliver import backoff
from notifier.delivery.smtp import classify
from notifier.errors import (
    DeliveryConfigError,
    DeliveryError,
    PermanentDeliveryError,
    TransientDeliveryError,
    UncertainDeliveryError,
)
from notifier.settings import Settings
from tests.helpers import settings_for

# --- classify() and backoff(): pure logic -----------------------------------------

R = aiosmtplib


@pytest.mark.parametrize(
    ("error", "kind", "code"),
    [
        (ConnectionRefusedError(111, "Connection refused"), TransientDeliveryError, None),
        (ConnectionResetError(104, "Connection reset by peer"), TransientDeliveryError, None),
        (TimeoutError(), TransientDeliveryError, None),
        (R.SMTPConnectError("refused"), TransientDeliveryError, None),
        (R.SMTPConnectTimeoutError("no answer"), TransientDeliveryError, None),
        (R.SMTPConnectResponseError(421, "too busy"), TransientDeliveryError, None),
        (R.SMTPServerDisconnected("gone"), TransientDeliveryError, None),
        (R.SMTPTimeoutError("slow"), TransientDeliveryError, None),
        (R.SMTPReadTimeoutError("slow"), TransientDeliveryError, None),
        (R.SMTPResponseException(421, "closing channel"), TransientDeliveryError, 421),
        (R.SMTPSenderRefused(451, "local error", "a@b.org"), TransientDeliveryError, 451),
        (R.SMTPRecipientRefused(450, "mailbox busy", "x@y.org"), TransientDeliveryError, 450),
        (R.SMTPDataError(452, "insufficient storage"), TransientDeliveryError, 452),
        (R.SMTPHeloError(421, "try later"), TransientDeliveryError, 421),
        (R.SMTPSenderRefused(553, "sender not allowed", "a@b.org"), DeliveryConfigError, 553),
        (R.SMTPSenderRefused(552, "message too big", "a@b.org"), PermanentDeliveryError, 552),
        (R.SMTPRecipientRefused(550, "no such user", "x@y.org"), PermanentDeliveryError, 550),
        (
            R.SMTPRecipientsRefused([R.SMTPRecipientRefused(550, "no such user", "x@y.org")]),
            PermanentDeliveryError,
            550,
        ),
        (R.SMTPDataError(554, "rejected as spam"), PermanentDeliveryError, 554),
        (R.SMTPNotSupported("SMTPUTF8 is not supported"), PermanentDeliveryError, None),
        (ValueError("address cannot be sent safely"), PermanentDeliveryError, None),
        (R.SMTPAuthenticationError(535, "credentials invalid"), DeliveryConfigError, 535),
        (R.SMTPResponseException(530, "authentication required"), DeliveryConfigError, 530),
        (R.SMTPSenderRefused(530, "authentication required", "a@b.org"), DeliveryConfigError, 530),
        (R.SMTPRecipientRefused(530, "authentication required", "x@y"), DeliveryConfigError, 530),
        (R.SMTPHeloError(550, "not from your network"), DeliveryConfigError, 550),
        (ssl.SSLCertVerificationError("certificate verify failed"), DeliveryConfigError, None),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, BaseException) else None,
)
def test_classify_sorts_every_failure_into_one_kind(
    error: BaseException, kind: type[DeliveryError], code: int | None
) -> None:
    result = classify(error)
    assert type(result) is kind
    assert result.code == code


def test_classify_keeps_the_refused_recipient_and_the_servers_words() -> None:
    result = classify(R.SMTPRecipientRefused(550, "5.1.1 no such user", "x@y.org"))
    assert result.recipient == "x@y.org"
    assert str(result) == "550 recipient refused: 5.1.1 no such user"


def test_starttls_missing_is_a_configuration_problem_only_while_connecting() -> None:
    missing = R.SMTPException("SMTP STARTTLS extension not supported by server.")
    assert type(classify(missing, connecting=True)) is DeliveryConfigError
    assert type(classify(missing)) is TransientDeliveryError


def test_classify_passes_our_own_errors_through() -> None:
    error = UncertainDeliveryError("outcome unknown")
    assert classify(error) is error


def _defaults() -> Settings:
    return settings_for(None, "sqlite:///unused.db", "sqlite:///unused-state.db")


def test_backoff_first_retry_comes_within_a_minute_with_the_defaults() -> None:
    s = _defaults()
    for draw in (0.0, 0.5, 0.999_999):
        assert 0 < backoff(1, s.retry_base_seconds, s.retry_cap_seconds, lambda d=draw: d) <= 60


def test_backoff_grows_and_is_capped() -> None:
    s = _defaults()
    base, cap = s.retry_base_seconds, s.retry_cap_seconds
    lows = [backoff(n, base, cap, lambda: 0.0) for n in range(1, 30)]
    highs = [backoff(n, base, cap, lambda: 1.0) for n in range(1, 30)]
    assert lows == sorted(lows) and highs == sorted(highs)
    assert lows[1] > lows[0]
    assert max(highs) == cap
    assert all(low >= cap / 2 for low in lows[-10:])  # jitter never drops below half


def test_backoff_is_jittered() -> None:
    import random

    s = _defaults()
    rng = random.Random(7)
    draws = {backoff(5, s.retry_base_seconds, s.retry_cap_seconds, rng.random) for _ in range(50)}
    assert len(draws) > 40
    assert min(draws) >= 240 and max(draws) <= 480  # attempt 5: 480 s, half of it random
