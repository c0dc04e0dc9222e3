"""The SMTP side: one aiosmtplib connection, and what its failures mean.

Each failure is classified once, here:
- transient (connection refused/reset, timeouts, 4xx): to be retried;
- permanent (5xx, a refused recipient): a dead letter with the server's words;
- configuration (login refused, STARTTLS required but not offered, a TLS
  certificate that does not verify, our greeting refused): not the message's
  fault, so delivery pauses and the message keeps its retries.

A timeout or a dropped connection after the message was handed over is an
unknown outcome (UncertainDeliveryError): retried, and counted.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from typing import Protocol

import aiosmtplib

from notifier.errors import (
    DeliveryConfigError,
    DeliveryError,
    PermanentDeliveryError,
    ServerUnavailableError,
    TransientDeliveryError,
    UncertainDeliveryError,
)
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
    if isinstance(exc, aiosmtplib.SMTPSenderRefused) and exc.code >= 500 and exc.code != 552:
        # Our own MAIL FROM refused: the same for every message, so it is the
        # configuration, not this message (552, too big, is about the message).
        return DeliveryConfigError(
            f"the SMTP server refuses our sender: {exc.message}", code=exc.code
        )
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
        reused = self._client is not None and self._client.is_connected
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
            try:
                await client.mail(sender, options=options)
            except (aiosmtplib.SMTPServerDisconnected, ConnectionError):
                if not reused:
                    raise
                # Relays close sessions that idle or that carried enough mail; the
                # message has not been offered yet, so a new session costs nothing.
                self._drop()
                client = await self._connected()
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
        """For ``notifier check``: connect (EHLO, STARTTLS, AUTH as configured), offer our
        sender with MAIL FROM, then RSET and QUIT, so that a relay that would refuse
        us (a login it requires, a sender it rejects) is caught before the first send."""
        client = await self._connected()
        sender = self._settings.mail_from.addr_spec
        try:
            await client.mail(sender)
            await client.rset()
            description = (
                f"SMTP {self._settings.smtp_host}:{self._settings.smtp_port} accepts "
                f"MAIL FROM:<{sender}>" + (" after login" if self._settings.smtp_username else "")
            )
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
