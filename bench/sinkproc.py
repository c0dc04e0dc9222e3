"""``python -m bench.sinkproc``: notifier.demo.sink.SmtpSink (aiosmtpd) in its own process.

Prints the port it listens on, then serves until SIGTERM.  The handler only
counts: parsing and keeping 20,000 messages (what the tests' RecordingHandler
does) would make the sink, not the client, the bottleneck.
"""

from __future__ import annotations

import asyncio
import signal
from typing import Any

from aiosmtpd.smtp import Envelope, Session

from notifier.demo.sink import RecordingHandler, SmtpSink


class CountingHandler(RecordingHandler):
    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        self.count += 1
        return "250 OK queued"


async def serve() -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with SmtpSink(CountingHandler()) as sink:
        print(sink.port, flush=True)
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(serve())
