"""Delivery: hand due outbox rows to the SMTP server, one message at a time.

Each failure is classified once, here:
- transient (connection refused/reset, timeouts, 4xx): retried with capped
  exponential backoff and jitter, until the give-up age;
- permanent (5xx, a refused recipient): dead letter with the server's words;
- configuration (login refused, STARTTLS required but not offered, a TLS
  certificate that does not verify, our greeting refused): not the message's
  fault, so delivery pauses and the message keeps its retries.

A timeout or a dropped connection after the message was handed over is an
unknown outcome: retried like any transient failure, and counted as uncertain.
"""

from __future__ import annotations

import asyncio
import logging
import random
import ssl
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import aiosmtplib

from notifier.errors import (
    DeliveryConfigError,
    DeliveryError,
    PermanentDeliveryError,
    ServerUnavailableError,
    TransientDeliveryError,
    UncertainDeliveryError,
)
from notifier.outbox import Claimed, Outbox
from notifier.settings import Settings

log = logging.getLogger(__name__)

_CONFIG_CODES = {530, 534, 535, 538}


class MailTransport(Protocol):
    """Sends one message to one recipient, or raises a DeliveryError subclass."""

    async def send(self, sender: str, recipient: str, data: bytes) -> None: ...

    async def aclose(self) -> None: ...


def classify(exc: BaseException, *, connecting: bool = False) -> DeliveryError:
    """Turn whatever aiosmtplib or the network raised into one of our three kinds."""
    if isinstance(exc, DeliveryError):
        return exc
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        refused = exc.recipients[0] if exc.recipients else None
        code = refused.code if refused else 550
        text = refused.message if refused else str(exc)
        recipient = refused.recipient if refused else None
        kind = TransientDeliveryError if 400 <= code < 500 else PermanentDeliveryError
        return kind(f"recipient refused: {text}", code=code, recipient=recipient)
    if isinstance(exc, aiosmtplib.SMTPRecipientRefused) and exc.code not in _CONFIG_CODES:
        kind = TransientDeliveryError if 400 <= exc.code < 500 else PermanentDeliveryError
        return kind(f"recipient refused: {exc.message}", code=exc.code, recipient=exc.recipient)
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        return DeliveryConfigError(f"SMTP login refused: {exc.message}", code=exc.code)
    if isinstance(exc, aiosmtplib.SMTPTimeoutError | TimeoutError):
        return TransientDeliveryError(f"timed out: {exc}")
    if isinstance(exc, aiosmtplib.SMTPServerDisconnected | aiosmtplib.SMTPConnectError):
        return TransientDeliveryError(f"{type(exc).__name__}: {exc}")
    if isinstance(exc, aiosmtplib.SMTPHeloError) and exc.code >= 500:
        # EHLO and HELO refused: the server will not talk to us, whatever we send.
        # aiosmtplib greets lazily, on the first MAIL, so this reaches send().
        return DeliveryConfigError(
            f"SMTP server refuses our greeting: {exc.message}", code=exc.code
        )
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        if exc.code in _CONFIG_CODES:
            return DeliveryConfigError(f"SMTP server requires login: {exc.message}", code=exc.code)
        if 400 <= exc.code < 500:
            return TransientDeliveryError(exc.message, code=exc.code)
        return PermanentDeliveryError(exc.message, code=exc.code)
    if isinstance(exc, aiosmtplib.SMTPNotSupported):
        return PermanentDeliveryError(f"server cannot take this message: {exc}")
    if isinstance(exc, ssl.SSLError):
        return DeliveryConfigError(f"TLS failed: {exc}")
    if isinstance(exc, aiosmtplib.SMTPException) and connecting:
        # aiosmtplib raises a bare SMTPException when STARTTLS is required but not offered.
        return DeliveryConfigError(f"cannot set up the SMTP session: {exc}")
    if isinstance(exc, OSError):
        return TransientDeliveryError(f"network error: {exc}")
    if isinstance(exc, ValueError):
        # aiosmtplib refuses an address or message it cannot send safely (a
        # non-ASCII address without SMTPUTF8, say): the same bytes fail every time.
        return PermanentDeliveryError(f"cannot be sent: {exc}")
    return TransientDeliveryError(f"{type(exc).__name__}: {exc}")


class SmtpTransport:
    """One reused aiosmtplib connection, reopened whenever the server closes it."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._client: aiosmtplib.SMTP | None = None

    def _new_client(self) -> aiosmtplib.SMTP:
        s = self._settings
        return aiosmtplib.SMTP(
            hostname=s.smtp_host,
            port=s.smtp_port,
            username=s.smtp_username,
            password=s.smtp_password.get_secret_value() if s.smtp_password else None,
            use_tls=s.smtp_tls == "tls",
            # True means required: a server without STARTTLS is an error, never a
            # silent fall-back to plain text.  False means never try it.
            start_tls=s.smtp_tls == "starttls",
            timeout=s.smtp_timeout,
        )

    async def _connected(self) -> aiosmtplib.SMTP:
        if self._client is not None and self._client.is_connected:
            return self._client
        self._client = self._new_client()
        try:
            await self._client.connect()
        except BaseException as exc:
            self._drop()
            if isinstance(exc, asyncio.CancelledError):
                raise
            error = classify(exc, connecting=True)
            if isinstance(error, TransientDeliveryError):
                error = ServerUnavailableError(f"cannot reach the SMTP server: {error}")
            elif isinstance(error, PermanentDeliveryError):
                # A 5xx to the greeting or EHLO is about our session, not about the
                # message we were about to send: dead-lettering it (and then every
                # following one) would be wrong.  Pause instead.
                error = DeliveryConfigError(
                    f"the SMTP server refuses our session: {error}", code=error.code
                )
            raise error from exc
        return self._client

    def _drop(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    async def send(self, sender: str, recipient: str, data: bytes) -> None:
        client = await self._connected()
        # MAIL, RCPT and DATA one by one rather than sendmail(), so that we know
        # whether the message had been handed over when the connection failed.
        handed_over = False
        try:
            options = []
            if client.supports_extension("size"):
                # The message is stored with CRLF line ends: its length is the size.
                options.append(f"SIZE={len(data)}")
            if not data.isascii() and client.supports_extension("8bitmime"):
                # 8-bit text may only be sent after saying so (RFC 6152).
                options.append("BODY=8BITMIME")
            await client.mail(sender, options=options)
            await client.rcpt(recipient)
            handed_over = True
            await client.data(data)
        except BaseException as exc:
            # After any failure the session's state is unknown: start afresh.
            self._drop()
            if isinstance(exc, asyncio.CancelledError):
                raise
            error = classify(exc)
            if (
                handed_over
                and isinstance(error, TransientDeliveryError)
                and not isinstance(exc, aiosmtplib.SMTPResponseException)
            ):
                # A timeout or a dropped connection during DATA, not an answer:
                # the server may have queued the message before it went quiet.
                error = UncertainDeliveryError(f"outcome unknown, {error}", code=error.code)
            raise error from exc

    async def probe(self) -> str:
        """Connect, log in and say goodbye: for ``notifier check``."""
        client = await self._connected()
        try:
            await client.noop()
            description = f"SMTP {self._settings.smtp_host}:{self._settings.smtp_port} answered"
            await client.quit()
        except Exception as exc:
            raise classify(exc) from exc
        finally:
            self._drop()
        return description

    async def aclose(self) -> None:
        if self._client is not None and self._client.is_connected:
            try:
                await asyncio.wait_for(self._client.quit(), timeout=5)
            except Exception:  # saying goodbye is best effort
                log.debug("QUIT failed", exc_info=True)
        self._drop()


@dataclass
class DeliveryReport:
    sent: int = 0
    retried: int = 0
    dead: int = 0
    uncertain: int = 0  # timed out after the data may have reached the server
    lost_lease: int = 0  # another worker took the row: a duplicate is possible
    paused: str | None = None  # a configuration problem stopped delivery
    unreachable: str | None = None  # the server could not be reached this pass


def backoff(attempts: int, base: float, cap: float, rng: Callable[[], float]) -> float:
    """Seconds before the next try: exponential, capped, with half of it random."""
    delay = min(cap, base * 2.0 ** max(attempts - 1, 0))
    return delay / 2 + rng() * delay / 2


def _now() -> datetime:
    return datetime.now(UTC)


class Deliverer:
    """Claims due rows and sends them, recording each outcome as it happens."""

    def __init__(
        self,
        settings: Settings,
        outbox: Outbox,
        transport: MailTransport,
        owner: str,
        *,
        clock: Callable[[], datetime] = _now,
        rng: Callable[[], float] = random.random,
        batch_size: int = 50,
    ) -> None:
        self._s = settings
        self._outbox = outbox
        self._transport = transport
        self._owner = owner
        self._clock = clock
        self._rng = rng
        self._batch_size = batch_size
        self._sender = settings.mail_from.addr_spec

    async def deliver_due(self, stopping: asyncio.Event | None = None) -> DeliveryReport:
        """Send everything due now; stop early when ``stopping`` is set or delivery pauses."""
        report = DeliveryReport()
        lease = timedelta(seconds=self._s.lease_seconds)
        # Only what was due when the pass began: a message retried during this
        # pass waits for the next one instead of spinning here.
        started = self._clock()
        while stopping is None or not stopping.is_set():
            claimed = await self._outbox.claim(
                self._owner, self._batch_size, self._clock(), lease, due_by=started
            )
            if not claimed:
                break
            lease_until = self._clock() + lease
            rest: list[int] = []
            try:
                for index, message in enumerate(claimed):
                    rest = [m.id for m in claimed[index:]]
                    if stopping is not None and stopping.is_set():
                        await self._outbox.release(self._owner, rest)
                        return report
                    if lease_until - self._clock() < timedelta(seconds=self._s.send_timeout + 5):
                        lease_until = self._clock() + lease
                        await self._outbox.renew(self._owner, rest, lease_until)
                    try:
                        await self._deliver_one(message, report)
                    except DeliveryConfigError as exc:
                        await self._outbox.release(self._owner, rest)
                        report.paused = str(exc)
                        return report
                    except ServerUnavailableError as exc:
                        await self._outbox.release(self._owner, rest)
                        report.unreachable = str(exc)
                        return report
                    rest = rest[1:]
            except asyncio.CancelledError:
                # Cancelled mid-send (shutdown timeout): make what we hold due again
                # at once rather than after the lease.  The message in flight may be
                # sent twice; it is never lost.
                await asyncio.shield(self._outbox.release(self._owner, rest, refund=False))
                raise
        return report

    async def _deliver_one(self, message: Claimed, report: DeliveryReport) -> None:
        """Send one message and record the outcome.

        Raises DeliveryConfigError or ServerUnavailableError, which are nobody's
        fault but the setup's: the caller stops the pass and charges no message.
        """
        extra = {"action": "deliver", "outbox_id": message.id, "event": message.event_key}
        try:
            async with asyncio.timeout(self._s.send_timeout):
                await self._transport.send(self._sender, message.recipient, message.message)
        except TimeoutError:
            # The deadline may have passed after the server took the data: the
            # outcome is unknown.  A duplicate is better than a lost question.
            report.uncertain += 1
            await self._retry(message, f"no answer within {self._s.send_timeout:g}s", report)
            return
        except PermanentDeliveryError as exc:
            report.dead += 1
            await self._record(
                self._outbox.mark_dead(message.id, self._owner, self._clock(), str(exc))
            )
            log.warning(
                "dead letter %s to %s: %s", message.event_key, message.recipient, exc, extra=extra
            )
            return
        except ServerUnavailableError:
            raise
        except TransientDeliveryError as exc:
            if isinstance(exc, UncertainDeliveryError):
                report.uncertain += 1
            await self._retry(message, str(exc), report)
            return
        held = await self._record(self._outbox.mark_sent(message.id, self._owner, self._clock()))
        report.sent += 1
        if not held:
            report.lost_lease += 1
            log.warning(
                "sent %s but its lease had passed to another worker", message.event_key, extra=extra
            )
        log.info("sent %s to %s", message.event_key, message.recipient, extra=extra)

    async def _retry(self, message: Claimed, reason: str, report: DeliveryReport) -> None:
        now = self._clock()
        extra = {"action": "deliver", "outbox_id": message.id, "event": message.event_key}
        age = (now - message.created_at).total_seconds()
        if (
            age >= self._s.give_up_after_seconds
            and message.attempts >= self._s.give_up_after_attempts
        ):
            report.dead += 1
            reason = f"gave up after {message.attempts} attempts over {age / 3600:.1f}h: {reason}"
            await self._record(self._outbox.mark_dead(message.id, self._owner, now, reason))
            log.error("dead letter %s: %s", message.event_key, reason, extra=extra)
            return
        delay = backoff(
            message.attempts, self._s.retry_base_seconds, self._s.retry_cap_seconds, self._rng
        )
        report.retried += 1
        await self._record(
            self._outbox.mark_retry(
                message.id, self._owner, now, now + timedelta(seconds=delay), reason
            )
        )
        log.warning(
            "will retry %s in %.0fs (attempt %d): %s",
            message.event_key,
            delay,
            message.attempts,
            reason,
            extra=extra,
        )

    @staticmethod
    async def _record(write: Coroutine[Any, Any, bool]) -> bool:
        """Write an outcome, shielded: a shutdown must not lose what the server said.

        If we are cancelled meanwhile, the write is still awaited before the
        cancellation goes on: the caller's clean-up releases the rows it holds,
        and a release that overtook a ``mark_sent`` would leave a sent message
        pending, to be sent again.
        """
        task = asyncio.ensure_future(write)
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            await asyncio.wait([task])
            if not task.cancelled() and task.exception() is not None:
                log.error("could not record an outcome: %s", task.exception())
            raise
