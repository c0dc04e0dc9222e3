"""A recording SMTP server (aiosmtpd) on the running event loop.

The demo's in-process mail sink, and the server the tests talk to.  It binds
127.0.0.1 on a free port and keeps every message it accepts.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.smtp import SMTP as SMTPProtocol
from aiosmtpd.smtp import Envelope, Session


@dataclass
class Received:
    """One message as the server got it: the envelope and the parsed content."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    message: EmailMessage = field(repr=False)


class RecordingHandler:
    """Accepts everything and remembers it.  Subclasses inject faults."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.arrived = asyncio.Event()

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        data = envelope.original_content or b""
        parsed = message_from_bytes(data, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.received.append(
            Received(str(envelope.mail_from), [str(r) for r in envelope.rcpt_tos], data, parsed)
        )
        self.arrived.set()
        return "250 OK queued"


class SmtpSink:
    """``async with SmtpSink() as sink:`` then point notifier at ``sink.port``."""

    def __init__(
        self, handler: RecordingHandler | None = None, *, port: int = 0, **smtp_options: Any
    ) -> None:
        self.handler = handler or RecordingHandler()
        self.host = "127.0.0.1"
        self.port = port
        self._options = smtp_options
        self._server: asyncio.Server | None = None

    @property
    def received(self) -> list[Received]:
        return self.handler.received

    async def start(self) -> SmtpSink:
        loop = asyncio.get_running_loop()
        options = {"hostname": "sink.localhost", "decode_data": False, **self._options}
        # A stopped sink can start again on the same port: the mail server coming back.
        self._server = await loop.create_server(
            lambda: SMTPProtocol(self.handler, loop=loop, **options),
            self.host,
            self.port,
            reuse_address=True,
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> SmtpSink:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
