"""Delivery over a pool of connections: reused, reopened, rate-limited."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from notifier.demo.sink import RecordingHandler, SmtpSink
from notifier.service import run_once
from tests.helpers import Blog, settings_for


class CountsSessions(RecordingHandler):
    """Records which connection each message came over, and when, slowly."""

    def __init__(self, delay: float = 0.0, close_every: int = 0) -> None:
        super().__init__()
        self.delay = delay
        self.close_every = close_every
        self.peers: list[Any] = []
        self.times: list[float] = []
        self.open_now = 0
        self.most_open = 0

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        self.open_now += 1
        self.most_open = max(self.most_open, self.open_now)
        try:
            await asyncio.sleep(self.delay)
            self.peers.append(session.peer)
            self.times.append(time.monotonic())
            answer = await super().handle_DATA(server, session, envelope)
        finally:
            self.open_now -= 1
        return answer

    async def handle_MAIL(self, server, session, envelope, address, mail_options):  # type: ignore[no-untyped-def]
        carried = self.peers.count(session.peer)
        if self.close_every and carried and carried % self.close_every == 0:
            # As relays do with sessions that idled or carried enough mail: the
            # connection is gone when the next message is offered.
            server.transport.close()
            return "421 closing"  # never reaches the client
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"


async def comments(tmp_path: object, n: int) -> Blog:
    blog = Blog(f"sqlite:///{tmp_path}/store.db")
    await blog.create()
    for i in range(n):
        await blog.comment(f"Comment number {i}")
    await blog.aclose()
    return blog


async def test_messages_go_out_over_several_reused_connections(
    tmp_path: object, sqlite_state: str
) -> None:
    blog = await comments(tmp_path, 40)
    handler = CountsSessions(delay=0.01)
    async with SmtpSink(handler) as smtp:
        settings = settings_for(smtp, blog.url, sqlite_state, smtp_connections="3")
        assert await run_once(settings) == 0
    assert len(handler.received) == 40
    assert len({r.message["Message-ID"] for r in handler.received}) == 40
    # Three sessions, each carrying many messages, working at the same time.
    assert len(set(handler.peers)) == 3
    assert handler.most_open == 3


async def test_a_session_the_server_closes_is_reopened_without_charging_a_retry(
    tmp_path: object, sqlite_state: str
) -> None:
    blog = await comments(tmp_path, 12)
    handler = CountsSessions(close_every=3)
    async with SmtpSink(handler) as smtp:
        settings = settings_for(smtp, blog.url, sqlite_state, smtp_connections="1")
        # Exit 0: nothing was left for a later retry.
        assert await run_once(settings) == 0
    assert len(handler.received) == 12
    assert len(set(handler.peers)) == 4


async def test_the_rate_limit_spaces_messages_out(tmp_path: object, sqlite_state: str) -> None:
    blog = await comments(tmp_path, 6)
    handler = CountsSessions()
    async with SmtpSink(handler) as smtp:
        settings = settings_for(
            smtp, blog.url, sqlite_state, smtp_connections="3", smtp_max_per_minute="120"
        )
        started = time.monotonic()
        assert await run_once(settings) == 0
    assert len(handler.received) == 6
    # 120 a minute is one send every 0.5 s across all connections. The k-th message
    # to arrive cannot have started before the k-th slot, so it arrives no earlier
    # than (k-1) * 0.5 s after the run began. Delays on the wire only make arrivals
    # later, so this bound cannot flake; gaps between arrivals can (two sends 0.5 s
    # apart may land together), which is why they are not what is checked. Without
    # the limit, three connections deliver all six well inside the 2.5 s it demands.
    for k, arrived in enumerate(sorted(handler.times)):
        assert arrived - started >= k * 0.5, (k, [t - started for t in handler.times])
