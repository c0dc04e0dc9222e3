"""Helpers for the failure tests: SMTP servers that misbehave on cue, and a look at the outbox."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from io import StringIO
from typing import Any

from sqlalchemy import select

from notifier.db import create_engine
from notifier.demo.sink import RecordingHandler
from notifier.ops.status import status
from notifier.settings import Settings
from notifier.state.schema import outbox


class Scripted(RecordingHandler):
    """A recording server whose answers to RCPT and DATA are scripted.

    ``rcpt`` and ``data`` are answers used once each, in order, then every command
    is accepted; ``refuse`` maps an address to the answer it always gets.  It counts
    MAIL commands, so a test can tell that nothing was sent at all.
    """

    def __init__(
        self,
        *,
        rcpt: Sequence[str] = (),
        data: Sequence[str] = (),
        refuse: dict[str, str] | None = None,
    ) -> None:
        super().__init__()
        self.rcpt_script = list(rcpt)
        self.data_script = list(data)
        self.refuse = refuse or {}
        self.mail_commands = 0
        self.data_tries = 0

    async def handle_MAIL(self, server, session, envelope, address, mail_options):  # type: ignore[no-untyped-def]
        self.mail_commands += 1
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # type: ignore[no-untyped-def]
        if address in self.refuse:
            return self.refuse[address]
        if self.rcpt_script:
            return self.rcpt_script.pop(0)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        self.data_tries += 1
        if self.data_script:
            return self.data_script.pop(0)
        return await super().handle_DATA(server, session, envelope)


class DropsAtData(Scripted):
    """Takes the whole message, then hangs up without an answer, ``times`` times."""

    def __init__(self, times: int = 1) -> None:
        super().__init__()
        self.drops = times

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        if self.drops:
            self.drops -= 1
            self.data_tries += 1
            server.transport.close()
            # aiosmtpd writes this to a closed transport: the client never sees it.
            return "421 gone"
        return await super().handle_DATA(server, session, envelope)


class StallsAtData(Scripted):
    """Takes the whole message, then says nothing for ``seconds``, ``times`` times."""

    def __init__(self, seconds: float, times: int = 1) -> None:
        super().__init__()
        self.seconds = seconds
        self.stalls = times

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        if self.stalls:
            self.stalls -= 1
            self.data_tries += 1
            await asyncio.sleep(self.seconds)  # cancelled when the client hangs up
            return "451 too late"
        return await super().handle_DATA(server, session, envelope)


class SlowServer(RecordingHandler):
    """Accepts everything, ``delay`` seconds per message: keeps deliveries in flight."""

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        await asyncio.sleep(self.delay)
        return await super().handle_DATA(server, session, envelope)


async def outbox_rows(state_url: str) -> list[Any]:
    """Every outbox row, by id, read straight from the state store."""
    engine = create_engine(state_url)
    try:
        async with engine.connect() as conn:
            return list((await conn.execute(select(outbox).order_by(outbox.c.id))).all())
    finally:
        await engine.dispose()


def message_ids(handler: RecordingHandler) -> list[str]:
    return [str(r.message["Message-ID"]) for r in handler.received]


async def status_of(settings: Settings) -> str:
    """What ``notifier status`` prints (its exit code says OK, warning or critical)."""
    out = StringIO()
    assert await status(settings, out, now=datetime.now(UTC)) in (0, 1, 2)
    return out.getvalue()
